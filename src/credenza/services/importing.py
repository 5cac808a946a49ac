"""Importing credentials from where they sit today (.env files, Postman environments and
collections) and exporting the config's records; secrets go to the keyring, never the config."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from credenza.config.auth_methods import AuthMethod
from credenza.config.changes import EnvironmentChange
from credenza.config.files import read_regular
from credenza.errors import NotFoundError, ValidationError
from credenza.oauth.untrusted import parse_json
from credenza.secrets import Secret
from credenza.services.applications import Applications
from credenza.services.credentials import Credentials
from credenza.services.environments import Environments

Source = Literal["dotenv", "postman-environment", "postman-collection"]
MAX_FILE = 5 * 1024 * 1024  # a credentials file is small; a bigger one is the wrong file
# JSON nesting: a collection's folders nest two levels each (item, then its list); Postman's own
# exports stay far below this, and the walk over the folders never nears Python's stack limit.
MAX_DEPTH = 64


@dataclass(frozen=True)
class ImportedCredential:
    """One client's credentials as found in a file; ``secret`` is never printed."""

    source: Source
    client_id: str
    secret: Secret | None
    token_url: str | None = None
    issuer: str | None = None
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    auth_method: AuthMethod | None = None
    ignored: tuple[str, ...] = field(default=())  # variable names not used (never values)


@dataclass(frozen=True)
class ImportResult:
    application: str
    environment: str
    created_application: bool
    created_environment: bool
    secret_stored: bool
    token_url: str | None


def _read(path: Path) -> str:
    data = read_regular(
        str(path),
        cap=MAX_FILE,
        what=str(path),
        hint="give the exported credentials file itself (a .env, or a Postman JSON export)",
        error=ValidationError,
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path} cannot be read (not UTF-8 text)") from None


# -- .env files -------------------------------------------------------------------------------------

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_FIELDS = {
    "CLIENT_ID": "client_id",
    "CLIENT_SECRET": "secret",
    "TOKEN_URL": "token_url",
    "TOKEN_ENDPOINT": "token_url",
    "ACCESS_TOKEN_URL": "token_url",
    "ISSUER": "issuer",
    "ISSUER_URL": "issuer",
    "SCOPE": "scopes",
    "SCOPES": "scopes",
    "AUDIENCE": "audience",
}


def parse_dotenv_text(text: str) -> dict[str, str]:
    """KEY=VALUE lines as shells and python-dotenv read them: comments, export, quotes."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            continue
        key, raw = match.groups()
        if raw[:1] in ('"', "'"):
            quote = raw[0]
            end = raw.find(quote, 1)
            value = raw[1:end] if end > 0 else raw[1:]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
        values[key] = value
    return values


def parse_dotenv(path: Path, prefix: str | None = None) -> ImportedCredential:
    """The client in a .env file: CLIENT_ID / CLIENT_SECRET / TOKEN_URL, maybe with a prefix
    (TELENOR_CLIENT_ID); ``prefix`` picks one where the file holds several."""
    values = parse_dotenv_text(_read(path))
    prefixes = sorted({k[: -len("CLIENT_ID")] for k in values if k.endswith("CLIENT_ID")})
    if prefix is not None:
        wanted = prefix.upper().rstrip("_") + "_" if prefix else ""
        if wanted not in prefixes:
            raise ValidationError(
                f"{path} has no {wanted}CLIENT_ID",
                hint="prefixes in it: "
                + (", ".join(p.rstrip("_") or "(none)" for p in prefixes) or "none"),
            )
        prefixes = [wanted]
    if not prefixes:
        raise ValidationError(
            f"{path} has no CLIENT_ID variable",
            hint="credenza reads CLIENT_ID, CLIENT_SECRET, TOKEN_URL (or ISSUER), SCOPE, "
            "optionally with a prefix such as TELENOR_CLIENT_ID",
        )
    if len(prefixes) > 1:
        raise ValidationError(
            f"{path} holds several clients: "
            + ", ".join(p.rstrip("_") or "(no prefix)" for p in prefixes),
            hint="pick one with --prefix NAME",
        )
    chosen = prefixes[0]
    found: dict[str, str] = {}
    used: set[str] = set()
    for suffix, name in _FIELDS.items():
        key = chosen + suffix
        if key in values and values[key] != "":
            found.setdefault(name, values[key])
            used.add(key)
    return ImportedCredential(
        source="dotenv",
        client_id=found["client_id"],
        secret=Secret(found["secret"]) if "secret" in found else None,
        token_url=found.get("token_url"),
        issuer=found.get("issuer"),
        scopes=tuple(found.get("scopes", "").replace(",", " ").split()),
        audience=found.get("audience"),
        ignored=tuple(sorted(k for k in values if k not in used)),
    )


# -- Postman ---------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_POSTMAN_ENV_KEYS = {
    "client_id": "client_id",
    "clientid": "client_id",
    "client_secret": "secret",
    "clientsecret": "secret",
    "token_url": "token_url",
    "tokenurl": "token_url",
    "access_token_url": "token_url",
    "accesstokenurl": "token_url",
    "auth_url": "token_url",
    "issuer": "issuer",
    "scope": "scopes",
    "scopes": "scopes",
    "audience": "audience",
}


# Postman's "Client Authentication": as a Basic header, or in the body.
_CLIENT_AUTHENTICATION: dict[str, AuthMethod] = {
    "header": "client_secret_basic",
    "body": "client_secret_post",
}


def _postman_key(key: str) -> str | None:
    # client_id, clientId, client-id and CLIENT_ID are the same variable to a person.
    folded = key.lower().replace("-", "_")
    return _POSTMAN_ENV_KEYS.get(folded) or _POSTMAN_ENV_KEYS.get(folded.replace("_", ""))


def _pairs(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    return {
        str(item["key"]): "" if item.get("value") is None else str(item["value"])
        for item in items
        if isinstance(item, dict) and "key" in item and item.get("enabled", True) is not False
    }


def _load_json(path: Path) -> Any:
    try:
        return parse_json(_read(path), max_depth=MAX_DEPTH)
    except ValueError as exc:
        raise ValidationError(
            f"{path} is not JSON credenza imports ({exc})",
            hint="export the collection or environment from Postman (Collection v2.1)",
        ) from None


def _postman_environment_values(path: Path) -> dict[str, str]:
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("values"), list):
        raise ValidationError(f'{path} is not a Postman environment (no "values")')
    return _pairs(data["values"])


def _oauth2_auths(node: Any, trail: str = "") -> list[tuple[str, dict[str, str]]]:
    """Every OAuth 2.0 auth in a collection: its own, then each folder's and request's."""
    found: list[tuple[str, dict[str, str]]] = []
    if not isinstance(node, dict):
        return found
    request = node.get("request")
    for auth in (node.get("auth"), request.get("auth") if isinstance(request, dict) else None):
        if isinstance(auth, dict) and auth.get("type") == "oauth2":
            found.append((trail or "the collection", _pairs(auth.get("oauth2"))))
    for item in node.get("item") or []:
        name = item.get("name", "?") if isinstance(item, dict) else "?"
        found.extend(_oauth2_auths(item, f"{trail} / {name}" if trail else str(name)))
    return found


def parse_postman(
    path: Path, environment: Path | None = None, request: str | None = None
) -> ImportedCredential:
    """A Postman environment (client_id, client_secret, token_url variables) or a collection
    with OAuth 2.0 auth, its {{variables}} filled from the collection and ``environment``."""
    data = _load_json(path)
    variables = _postman_environment_values(environment) if environment else {}
    if isinstance(data, dict) and isinstance(data.get("values"), list):
        values = {**variables, **_pairs(data["values"])}
        found: dict[str, str] = {}
        for key, value in values.items():
            name = _postman_key(key)
            if name and value:
                found.setdefault(name, value)
        if "client_id" not in found:
            raise ValidationError(
                f"{path}: the Postman environment has no client_id variable",
                hint="credenza reads client_id, client_secret, token_url (or accessTokenUrl), "
                "scope",
            )
        ignored = tuple(sorted(k for k in values if _postman_key(k) is None))
        return _credential("postman-environment", found, None, ignored=ignored)
    if not isinstance(data, dict) or "info" not in data:
        raise ValidationError(f"{path} is neither a Postman environment nor a collection")
    variables.update({k: v for k, v in _pairs(data.get("variable")).items() if k not in variables})
    auths = _oauth2_auths(data)
    if request is not None:
        auths = [a for a in auths if a[0] == request or a[0].endswith("/ " + request)]
    distinct = {tuple(sorted(a[1].items())): a for a in auths}
    if not distinct:
        raise ValidationError(
            f"{path}: no OAuth 2.0 auth" + (f" on {request!r}" if request else ""),
            hint="set Authorization > OAuth 2.0 on the collection or a request in Postman",
        )
    if len(distinct) > 1:
        raise ValidationError(
            f"{path} has several OAuth 2.0 settings: " + ", ".join(a[0] for a in distinct.values()),
            hint="pick one with --request NAME",
        )
    _, auth = next(iter(distinct.values()))

    undefined = sorted(
        {
            name
            for value in auth.values()
            for name in _VARIABLE.findall(value)
            if name not in variables
        }
    )
    if undefined:
        raise ValidationError(
            f"{path} uses variables it does not define: "
            + ", ".join("{{" + name + "}}" for name in undefined),
            hint="give the Postman environment that defines them: --environment FILE",
        )

    def fill(value: str) -> str:
        return _VARIABLE.sub(lambda match: variables[match.group(1)], value)

    grant = auth.get("grant_type", "client_credentials")
    found = {
        name: fill(auth[key])
        for key, name in (
            ("clientId", "client_id"),
            ("clientSecret", "secret"),
            ("accessTokenUrl", "token_url"),
            ("scope", "scopes"),
            ("audience", "audience"),
        )
        if auth.get(key)
    }
    if "client_id" not in found:
        raise ValidationError(f"{path}: the OAuth 2.0 auth has no Client ID")
    method = _CLIENT_AUTHENTICATION.get(auth.get("client_authentication", ""))
    if grant not in ("client_credentials", "authorization_code", "authorization_code_with_pkce"):
        raise ValidationError(f"{path}: the OAuth 2.0 grant {grant!r} is not one credenza uses")
    return _credential("postman-collection", found, method)


def _credential(
    source: Source, found: dict[str, str], method: AuthMethod | None, ignored: tuple[str, ...] = ()
) -> ImportedCredential:
    return ImportedCredential(
        source=source,
        client_id=found["client_id"],
        secret=Secret(found["secret"]) if found.get("secret") else None,
        token_url=found.get("token_url"),
        issuer=found.get("issuer"),
        scopes=tuple(found.get("scopes", "").replace(",", " ").split()),
        audience=found.get("audience"),
        auth_method=method,
        ignored=ignored,
    )


# -- into the workspace -----------------------------------------------------------------------------


def import_credential(
    applications: Applications,
    environments: Environments,
    credentials: Credentials,
    found: ImportedCredential,
    *,
    app: str,
    env: str,
    token_url: str | None = None,
) -> ImportResult:
    """Add (or update) the application and environment; the secret goes to the keyring."""
    try:
        application = applications.get(app)
        created_application = False
    except NotFoundError:
        application = applications.add(app)
        created_application = True
    change = EnvironmentChange(
        client_id=found.client_id,
        token_url=token_url or found.token_url or _unset(),
        issuer=found.issuer or _unset(),
        scopes=list(found.scopes) if found.scopes else _unset(),
        audience=found.audience or _unset(),
        auth_method=found.auth_method or _unset(),
    )
    created_environment = env not in application.environments
    try:
        if created_environment:
            environments.add(application.id, env, change)
        else:
            environments.edit(application.id, env, change)
        resolved = environments.resolve(application.id, env)
        if resolved.token_url is None and resolved.environment.issuer is None:
            raise ValidationError(
                f"no token endpoint for {resolved.label}: the file has no TOKEN_URL or issuer",
                hint="give it: --token-url URL",
            )
    except Exception:
        if created_environment and env in applications.get(application.id).environments:
            environments.remove(application.id, env)
        if created_application:
            applications.remove(application.id)
        raise
    stored = False
    if found.secret is not None:
        credentials.set(application.id, env, found.secret)
        stored = True
    return ImportResult(
        application=application.id,
        environment=env,
        created_application=created_application,
        created_environment=created_environment,
        secret_stored=stored,
        token_url=resolved.token_url,
    )


def _unset() -> Any:
    import msgspec

    return msgspec.UNSET
