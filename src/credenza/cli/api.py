"""`credenza api`: call the environment's API with its token, the way `gh api` does.

The response body goes to stdout. To a pipe or a file it is written byte for byte: it is what
was asked for. At a terminal it is shown, never written raw: JSON pretty-printed with every key
and string passed through ``untrusted.clean`` (escape sequences and control characters removed,
anything credenza sent redacted), text line by line through the same door, and a binary body
not at all (a note says to redirect it). Status line and headers (-i) always pass ``clean``.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from credenza.cli import output
from credenza.cli.common import Group, app_argument, env_option, open_workspace, run_async
from credenza.errors import ValidationError

if TYPE_CHECKING:
    from credenza.oauth.untrusted import Sent
    from credenza.services.api_calls import ApiResponse

# -d / --input: a request body read whole, bounded like every local file credenza reads.
MAX_INPUT_BYTES = 16 * 1024 * 1024


def register(commands: Group) -> None:
    api = commands.command(
        "api",
        "call the environment's API with its token (Bearer, or DPoP-bound with a fresh proof)",
        cmd_api,
        "  credenza api telenor-sms /v1/me\n"
        "  credenza api telenor-sms --env sandbox /v1/messages -f to=4790000000 -f text=hi\n"
        "  credenza api telenor-sms -X PUT /v1/hooks/1 --input hook.json -H 'X-Trace: 1' -i\n"
        "  credenza api telenor-sms /v1/messages | jq '.[0]'",
    )
    app_argument(api)
    env_option(api)
    api.add_argument(
        "target",
        metavar="PATH|URL",
        help="a path on the environment's API URL, or an absolute URL on its origin",
    )
    api.add_argument(
        "-X", "--method", help="the HTTP method (default: GET, or POST with a body or fields)"
    )
    api.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add a request header (repeatable); credenza sets Authorization itself",
    )
    api.add_argument(
        "-f",
        "--field",
        dest="fields",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a field (repeatable): the query of a GET, else a JSON object as the body",
    )
    body = api.add_mutually_exclusive_group()
    body.add_argument("-d", "--data", help="the request body, as given")
    body.add_argument(
        "--input", metavar="FILE", help="read the request body from FILE ('-': stdin)"
    )
    api.add_argument(
        "-i", "--include", action="store_true", help="print the status line and headers first"
    )
    api.add_argument(
        "--scope", action="append", default=[], help="the token requested with this scope"
    )
    api.add_argument(
        "--verbose",
        action="store_true",
        help="print each HTTP exchange on stderr, the token and the DPoP proof masked",
    )


def cmd_api(args: argparse.Namespace) -> int:
    from credenza.services.api_calls import ApiCall

    call = ApiCall(
        target=args.target,
        method=args.method,
        headers=tuple(_header(h) for h in args.headers),
        fields=tuple(_field(f) for f in args.fields),
        body=_body(args),
        scopes=tuple(scope for given in args.scope for scope in given.split()),
    )
    workspace = open_workspace(args)
    if args.verbose:
        from credenza.cli.token import show_exchanges

        show_exchanges(workspace)
    response = run_async(workspace, workspace.api.call(args.app, args.env, call))
    if args.verbose and response.retried:
        output.info("# the API refused the token (invalid_token): one fresh token, one retry")
    tty = sys.stdout.isatty()
    if args.include:
        sys.stdout.write(_head(response))
    if tty:
        sys.stdout.write(shown_body(response.body, response.sent, response.header("content-type")))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(response.body)
    sys.stdout.flush()
    if not response.ok:
        output.error(f"the API answered HTTP {response.status} {_reason(response.status)}")
    return 0 if response.ok else 1


def _head(response: ApiResponse) -> str:
    from credenza.oauth.untrusted import clean

    lines = [f"HTTP {response.status} {_reason(response.status)}"]
    lines += [
        f"{clean(name, response.sent, limit=200)}: {clean(value, response.sent, limit=None)}"
        for name, value in response.headers
    ]
    return "\n".join(lines) + "\n\n"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def shown_body(body: bytes, sent: Sent, content_type: str | None = None) -> str:
    """A body as a terminal may show it: everything from the server through ``clean``."""
    from credenza.oauth.untrusted import clean, parse_json

    if not body:
        return ""
    try:
        data = parse_json(body, max_depth=256)
    except ValueError:
        data = _NOT_JSON
    if data is not _NOT_JSON:
        import json

        return json.dumps(_cleaned(data, sent), indent=2, ensure_ascii=False) + "\n"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        what = clean(content_type, limit=80) or "binary"
        return f"({len(body)} bytes of {what}, not shown at a terminal: redirect it to a file)\n"
    lines = [clean(line, sent, limit=None) for line in text.splitlines()]
    return "\n".join(lines) + "\n"


_NOT_JSON = object()


def _cleaned(data: Any, sent: Sent) -> Any:
    from credenza.oauth.untrusted import clean

    if isinstance(data, dict):
        return {clean(k, sent, limit=None): _cleaned(v, sent) for k, v in data.items()}
    if isinstance(data, list):
        return [_cleaned(item, sent) for item in data]
    if isinstance(data, str):
        return clean(data, sent, limit=None)
    return data


def _header(given: str) -> tuple[str, str]:
    name, colon, value = given.partition(":")
    if not colon or not name.strip():
        raise ValidationError(f"{given!r} is not a header", hint="give it as -H 'Name: value'")
    return name.strip(), value.strip()


def _field(given: str) -> tuple[str, str]:
    key, eq, value = given.partition("=")
    if not eq or not key:
        raise ValidationError(f"{given!r} is not a field", hint="give it as -f key=value")
    return key, value


def _body(args: argparse.Namespace) -> bytes | None:
    if args.data is not None:
        return str(args.data).encode("utf-8")
    if args.input is None:
        return None
    if args.input == "-":
        data = (
            sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            if hasattr(sys.stdin, "buffer")
            else (sys.stdin.read(MAX_INPUT_BYTES + 1).encode("utf-8"))
        )
    else:
        try:
            info = os.stat(args.input)
            if not stat.S_ISREG(info.st_mode):
                raise ValidationError(f"{args.input} is not a regular file")
            with open(args.input, "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise ValidationError(
                f"cannot read {args.input}: {exc.strerror}", hint="give a readable file"
            ) from None
    if len(data) > MAX_INPUT_BYTES:
        raise ValidationError(
            f"the request body is over {MAX_INPUT_BYTES // (1024 * 1024)} MiB; nothing was sent"
        )
    return data
