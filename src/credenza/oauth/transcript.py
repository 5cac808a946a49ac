"""The `--verbose` transcript of one HTTP request and its answer: every secret masked, and "copy as curl" with a
placeholder where the secret goes."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus

from credenza.agent.client import shell_quote
from credenza.oauth import auth, binding, grants
from credenza.oauth.untrusted import Sent, clean

MASK = "****"
# Form fields and JSON members whose values are credentials or tokens: what the registered
# grants and client-authentication methods declare secret, and what none of them sends but
# answers carry (the tokens), revocation and introspection send (``token``), and the RFC 7523
# and RFC 8693 grants would send (credenza runs neither; a module for one declares them).
SECRET_FIELDS = (
    frozenset(
        {
            "access_token",
            "id_token",
            "refresh_token",
            "token",
            "assertion",
            "subject_token",
            "actor_token",
        }
    )
    | grants.secret_fields()
    | auth.secret_fields()
)
# Secrets a person chose rather than a server issued (the grants declare them): redacted from an
# echo whatever their length (a short password is still the person's; a short token protects
# nothing).
PERSONAL_SECRETS = grants.personal_fields()
# Request headers that carry a token binding's proof (DPoP): one signed word, masked whole.
_PROOF_HEADERS = {b.header.lower(): b for b in binding.BINDINGS.values()}
# Headers curl sets itself (or that only describe this one connection): left out of the copy.
_CURL_OWN = frozenset({"host", "content-length", "connection", "user-agent", "accept-encoding"})

# $CLIENT_SECRET form-encoded by the shell that runs the pasted line: each byte as %XX.
_ENCODED_SECRET = (
    "\"$(printf %s \"$CLIENT_SECRET\" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g')\""
)


@dataclass(frozen=True)
class Transcript:
    """What went over the wire in one attempt; ``status`` is None when no answer came."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    form: Mapping[str, str] | None
    status: int | None
    response_headers: Mapping[str, str]
    body: bytes
    sent: Sent
    # How client_secret_basic encoded id and secret ("rfc6749" or "raw"): the curl line follows.
    basic_encoding: str = "rfc6749"

    def request_lines(self) -> list[str]:
        lines = [f"> {self.method} {self.url}"]
        for name, value in self.request_headers.items():
            lines.append(f"> {_title(name)}: {_mask_header(name, value)}")
        if self.form:
            shown = "&".join(
                f"{k}={MASK if k in SECRET_FIELDS else v}" for k, v in self.form.items()
            )
            lines.append(f"> {shown}")
        return [clean(line, self.sent, limit=None) for line in lines]

    def response_lines(self) -> list[str]:
        if self.status is None:
            return ["< (no answer)"]
        lines = [f"< HTTP {self.status}"]
        for name, value in self.response_headers.items():
            if name.lower() not in ("set-cookie",):
                lines.append(f"< {_title(name)}: {value}")
        lines.append(f"< {_mask_body(self.body)}")
        # Whatever the server echoed of what credenza sent is masked too.
        return [clean(line, self.sent, limit=2000) for line in lines]

    def curl(self) -> str:
        """The same request as a curl command, a shell variable where each secret goes.

        Built for pasting: every word is single-quoted (a `$(...)`, backtick or `;` that a
        config or a server put into a URL, a scope or an audience stays text) and only the
        placeholders stand outside the quotes, in double quotes, so the shell expands them and
        nothing else. Each piece of text is cleaned before it is quoted.
        """
        words = ["curl", "-g", "-X", self._quoted(self.method), self._quoted(self.url)]
        for name, value in self.request_headers.items():
            if name.lower() in _CURL_OWN:
                continue
            if name.lower() == "authorization" and value.startswith("Basic "):
                words += ["-u", self._basic_user(value)]
            elif name.lower() == "authorization":
                scheme = value.partition(" ")[0]
                words += ["-H", self._quoted(f"{_title(name)}: {scheme}") + '" $ACCESS_TOKEN"']
            elif (bound := _PROOF_HEADERS.get(name.lower())) is not None:
                # A proof is good for one request: `credenza token --dpop-for METHOD URL`.
                words += ["-H", self._quoted(f"{bound.header}: ") + f'"{bound.placeholder}"']
            else:
                words += ["-H", self._quoted(f"{_title(name)}: {value}")]
        for key, value in (self.form or {}).items():
            # curl takes the name as it is (already encoded): an `@` there would read a file.
            field = quote_plus(key)
            if key in SECRET_FIELDS:
                # The shell variable that stands in for it: $CLIENT_SECRET, $CODE_VERIFIER...
                placeholder = "$" + key.upper()
                words += ["--data-urlencode", self._quoted(f"{field}=") + f'"{placeholder}"']
            else:
                words += ["--data-urlencode", self._quoted(f"{field}={value}")]
        return " ".join(words)

    def _quoted(self, text: str) -> str:
        return shell_quote(clean(text, self.sent, limit=None))

    def _basic_user(self, value: str) -> str:
        """curl -u's word for client_secret_basic: the id as it was sent, then the secret.

        With RFC 6749 §2.3.1 encoding credenza form-encoded id and secret before Base64; curl -u
        sends what it is given, so the line carries the id encoded, and has the shell encode the
        secret when it is pasted: every byte as %XX, with printf, od, tr and sed (POSIX, on every
        system that has a shell), which any form decoder reads back as the secret.
        """
        try:
            decoded = base64.b64decode(value.partition(" ")[2]).decode("utf-8")
            user = decoded.partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            user = ""
        prefix = self._quoted(f"{user}:") if user else '"$CLIENT_ID":'
        if self.basic_encoding == "raw":
            return prefix + '"$CLIENT_SECRET"'
        return prefix + _ENCODED_SECRET


def _title(name: str) -> str:
    # httpx keeps header names lowercase; people read them as Content-Type.
    return "-".join(word.capitalize() for word in name.split("-"))


def _mask_header(name: str, value: str) -> str:
    if name.lower() in _PROOF_HEADERS:
        return MASK  # a DPoP proof (RFC 9449): a signed JWT, one word, nothing to keep of it
    if name.lower() in ("authorization", "proxy-authorization", "cookie"):
        scheme = value.partition(" ")[0]
        return f"{scheme} {MASK}" if scheme else MASK
    return value


def _mask_body(body: bytes) -> str:
    # The whole body (the client capped it at 1 MiB): a token answer cut short would not parse,
    # and the raw text holds the tokens the server just issued, which no redaction knows.
    from credenza.oauth.untrusted import parse_json

    try:
        data = parse_json(body)
    except ValueError:
        return f"({len(body)} bytes, not JSON: not shown, it may hold a token)"
    return json.dumps(_mask_json(data))


def _mask_json(data: object) -> object:
    if isinstance(data, dict):
        return {k: MASK if k in SECRET_FIELDS else _mask_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_json(item) for item in data]
    return data
