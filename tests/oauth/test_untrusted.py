"""Untrusted input at the OAuth client: a hostile server cannot leak, inject, flood or mislead.

Each test is one of the red team's cases (issue 10), reproduced by tests/hostile.py over real
HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response

from credenza.errors import (
    CredenzaError,
    DiscoveryError,
    InvalidResponseError,
    RevocationUnconfirmedError,
    TokenEndpointError,
    TransportError,
    ValidationError,
)
from credenza.oauth.answers import error_kind
from credenza.oauth.client import OAuthClient
from credenza.oauth.grants import client_credentials
from credenza.oauth.params import apply_param_edits, param_problem
from credenza.oauth.plan import ClientCredentials
from credenza.oauth.tokens import (
    Token,
    claim_time,
    decode_jwt,
    describe_claims,
    token_warnings,
)
from credenza.oauth.untrusted import Sent, clean, parse_json
from credenza.providers.profiles import resolve_profile
from credenza.secrets import Secret
from tests.conftest import FAST
from tests.hostile import (
    ESCAPES,
    Seen,
    control_characters,
    deep_json,
    echo_in,
    gzip_of_zeros,
    gzip_stacked,
    hostile,
    json_answer,
    jwt,
    leaks,
    metadata,
    raw_answer,
    token,
)

# A canary with the characters that encode differently in each form.
SECRET = "cAnArY-9f8e7d6c5b4a3210+/=&% é✓:fedcba98"
CLIENT_ID = "hostile-client"
TOKEN = "tOkEn-canary-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
async def client() -> AsyncIterator[OAuthClient]:
    oauth = OAuthClient(FAST)
    yield oauth
    await oauth.aclose()


def creds(url: str, **options: Any) -> ClientCredentials:
    return ClientCredentials(
        token_url=f"{url}/token", client_id=CLIENT_ID, secret=Secret(SECRET), **options
    )


def everything_shown(error: CredenzaError) -> str:
    """All the text of an error a person or a JSON report can see."""
    parts = [str(error)]
    if isinstance(error, TokenEndpointError):
        parts += [error.error or "", error.description or "", error.provider_code or ""]
    return "\n".join(parts)


# -- 1. secrets echoed back -----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["error", "description", "code", "title", "text"])
@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
async def test_an_echo_of_the_request_never_shows_the_secret(
    client: OAuthClient, where: str, auth_method: str
) -> None:
    with hostile() as (script, server):
        script.on("/token", echo_in(where))
        with pytest.raises(TokenEndpointError) as caught:
            await client.grant(
                client_credentials.plan, creds(server.issuer, auth_method=auth_method)
            )
    # The server did receive the secret, and echoed it.
    assert leaks(script.seen[0].text + str(script.seen[0].headers), SECRET, CLIENT_ID)
    shown = everything_shown(caught.value)
    assert leaks(shown, SECRET, CLIENT_ID) == []
    if "authorization" in script.seen[0].headers:
        assert leaks(shown, script.seen[0].headers["authorization"]) == []
    assert "[redacted]" in shown or "…" in shown  # redacted, or cut off before the secret


@pytest.mark.parametrize("basic_auth_encoding", ["rfc6749", "raw"])
async def test_a_truncated_echo_of_the_basic_header_is_redacted(
    client: OAuthClient, basic_auth_encoding: str
) -> None:
    def cut(seen: Seen) -> Response:  # a server that logs the first 40 characters of the header
        from starlette.responses import JSONResponse

        header = seen.headers["authorization"]
        return JSONResponse(
            {"error": "invalid_client", "error_description": f"bad {header[:40]}…"}, 401
        )

    with hostile() as (script, server):
        script.on("/token", cut)
        with pytest.raises(TokenEndpointError) as caught:
            await client.grant(
                client_credentials.plan,
                creds(server.issuer, basic_auth_encoding=basic_auth_encoding),
            )
    header = script.seen[0].headers["authorization"]
    assert header[6:40] not in str(caught.value)


async def test_revoke_and_logout_never_show_the_token_they_sent(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on("/revoke", echo_in("description", status=400))
        script.on("/logout", echo_in("text", status=401))
        with pytest.raises(TokenEndpointError) as revoked:
            await client.revoke(creds(server.issuer), f"{server.issuer}/revoke", Secret(TOKEN))
        with pytest.raises(TokenEndpointError) as logged_out:
            await client.logout(f"{server.issuer}/logout", Secret(TOKEN))
    for error in (revoked.value, logged_out.value):
        assert leaks(everything_shown(error), TOKEN) == []
        assert leaks(everything_shown(error), SECRET, CLIENT_ID) == []


async def test_a_redirect_target_holding_the_secret_is_not_shown(client: OAuthClient) -> None:
    def redirect(seen: Seen) -> Response:
        from starlette.responses import Response

        return Response(status_code=302, headers={"location": f"https://evil.example/{SECRET}"})

    with hostile() as (script, server):
        script.on("/token", redirect)
        with pytest.raises(CredenzaError) as caught:
            await client.grant(client_credentials.plan, creds(server.issuer))
    assert leaks(str(caught.value), SECRET) == []


def test_clean_removes_every_encoding_of_what_was_sent() -> None:
    from tests.hostile import forms_of

    sent = Sent(SECRET)
    for name, form in forms_of(SECRET, CLIENT_ID).items():
        shown = clean(f"before {form} after", sent)
        assert leaks(shown, SECRET, CLIENT_ID) == [], name
        assert shown.startswith("before "), name
        assert shown.endswith(" after"), name


def test_clean_keeps_ordinary_text_and_short_values_alone() -> None:
    assert clean("invalid_client: bad client_id or client_secret", Sent(SECRET)) == (
        "invalid_client: bad client_id or client_secret"
    )
    assert clean("HTTP 401", Sent("1")) == "HTTP 401"


# -- 3. terminal escapes --------------------------------------------------------------------------


def test_clean_removes_escape_sequences_with_their_payload() -> None:
    shown = clean(f"before{ESCAPES}after\r\nnext\u202eline\u0085")
    assert control_characters(shown) == []
    assert "pwned" not in shown
    assert "cHduZWQ" not in shown
    assert shown == "beforeafter nextline"


@pytest.mark.parametrize("where", ["error", "description", "code", "title", "text"])
async def test_escape_sequences_in_an_error_never_reach_the_message(
    client: OAuthClient, where: str
) -> None:
    def escaping(seen: Seen) -> Response:
        from starlette.responses import JSONResponse, Response

        if where == "title":
            return Response(f"<title>x{ESCAPES}</title>", 500, media_type="text/html")
        if where == "text":
            return Response(f"x{ESCAPES}", 500, media_type="text/plain")
        field = {"error": "error", "description": "error_description", "code": "code"}[where]
        return JSONResponse({"error": "server_error", field: f"x{ESCAPES}y"}, 400)

    with hostile() as (script, server):
        script.on("/token", escaping)
        with pytest.raises(TokenEndpointError) as caught:
            await client.grant(client_credentials.plan, creds(server.issuer))
    assert control_characters(everything_shown(caught.value)) == []


async def test_a_token_type_with_escapes_or_separators_is_refused(client: OAuthClient) -> None:
    for token_type in (f"Bearer{ESCAPES}", "Bearer; rm -rf ~", "$(touch x)"):
        with hostile() as (script, server):
            script.on("/token", token(token_type=token_type))
            with pytest.raises(InvalidResponseError) as caught:
                await client.grant(client_credentials.plan, creds(server.issuer))
        assert control_characters(str(caught.value)) == []


async def test_an_access_token_outside_vschar_is_refused(client: OAuthClient) -> None:
    for bad in (f"tok{ESCAPES}", "tok\nen", "tøken"):
        with hostile() as (script, server):
            script.on("/token", token(bad))
            with pytest.raises(InvalidResponseError, match="VSCHAR"):
                await client.grant(client_credentials.plan, creds(server.issuer))


async def test_granted_scopes_and_claims_are_cleaned(client: OAuthClient) -> None:
    claims = {"sub": f"me{ESCAPES}", "scope": f"a{ESCAPES}"}
    with hostile() as (script, server):
        script.on("/token", token(jwt(claims), scope=f"read x{ESCAPES}"))
        issued = await client.grant(client_credentials.plan, creds(server.issuer, scopes=("read",)))
    assert control_characters(" ".join(issued.scopes)) == []
    parts = decode_jwt(issued.access_token.reveal())
    assert parts is not None
    assert control_characters(repr(describe_claims(parts.claims))) == []
    assert control_characters(" ".join(token_warnings(issued, ("read",)))) == []


async def test_discovered_endpoints_with_escapes_are_refused(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on(
            "/.well-known/oauth-authorization-server",
            metadata(server.issuer, revocation_endpoint=f"{server.issuer}/r{ESCAPES}"),
        )
        with pytest.raises(DiscoveryError) as caught:
            await client.discover(server.issuer)
    assert control_characters(str(caught.value)) == []


# -- 4. compressed bombs --------------------------------------------------------------------------


async def test_a_gzip_bomb_is_cut_off_at_the_cap_on_decoded_bytes(client: OAuthClient) -> None:
    bomb = gzip_of_zeros(64 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    with hostile() as (script, server):
        script.on("/token", raw_answer(bomb, 400, {"content-encoding": "gzip"}))
        with pytest.raises(TransportError, match="more than 1024 KiB"):
            await client.grant(client_credentials.plan, creds(server.issuer))


async def test_stacked_encodings_are_refused(client: OAuthClient) -> None:
    body = gzip_stacked(1024**3)  # 1 GiB of zeros in a few KB
    assert len(body) < 8192
    with hostile() as (script, server):
        script.on("/token", raw_answer(body, 200, {"content-encoding": "gzip, gzip"}))
        with pytest.raises(InvalidResponseError, match="encoded 2 times"):
            await client.grant(client_credentials.plan, creds(server.issuer))


async def test_an_ordinary_gzip_answer_still_works(client: OAuthClient) -> None:
    import gzip
    import json

    body = gzip.compress(json.dumps({"access_token": "zipped", "expires_in": 60}).encode())
    with hostile() as (script, server):
        script.on(
            "/token",
            raw_answer(body, 200, {"content-encoding": "gzip", "content-type": "application/json"}),
        )
        issued = await client.grant(client_credentials.plan, creds(server.issuer))
    assert issued.access_token.reveal() == "zipped"


# -- 5. deep JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400])
async def test_json_200000_levels_deep_is_a_provider_error(
    client: OAuthClient, status: int
) -> None:
    with hostile() as (script, server):
        script.on("/token", raw_answer(deep_json(), status, {"content-type": "application/json"}))
        with pytest.raises(CredenzaError) as caught:
            await client.grant(client_credentials.plan, creds(server.issuer))
    assert caught.value.exit_code == 1
    assert "nested deeper than" in str(caught.value)


def test_deep_json_inside_a_jwt_is_not_a_jwt() -> None:
    import base64

    deep = base64.urlsafe_b64encode(deep_json(100_000)).decode().rstrip("=")
    assert decode_jwt(f"eyJhbGciOiJub25lIn0.{deep}.sig") is None
    with pytest.raises(ValueError, match="nested deeper"):
        parse_json(b'{"a":' * 40 + b"1" + b"}" * 40)


# -- 6. out-of-range numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("exp", [10**15, 10**400, -(10**15), 1e308, "soon", True])
def test_claim_times_out_of_range_are_not_dates(exp: object) -> None:
    assert claim_time(exp) is None
    rows = dict(describe_claims({"exp": exp, "iat": 1_700_000_000}))
    assert "2023-11-14" in rows["iat"]
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        assert "out of range" in rows["exp"]


async def test_an_introspection_exp_of_10_to_the_15_is_shown_not_crashed(
    client: OAuthClient,
) -> None:
    with hostile() as (script, server):
        script.on("/introspect", json_answer({"active": True, "exp": 10**15}))
        answer = await client.introspect(
            creds(server.issuer), f"{server.issuer}/introspect", Secret(TOKEN)
        )
    assert "out of range" in dict(describe_claims(answer))["exp"]


@pytest.mark.parametrize("expires_in", [1e300, "1e308", 10**30])
async def test_huge_expires_in_is_clamped(client: OAuthClient, expires_in: object) -> None:
    with hostile() as (script, server):
        script.on("/token", token(expires_in=expires_in))
        issued = await client.grant(client_credentials.plan, creds(server.issuer))
    assert issued.expires_at is not None
    assert issued.expires_at.year < 9999


async def test_retry_after_beyond_the_deadline_is_reported_at_once_not_as_dripping() -> None:
    oauth = OAuthClient(replace(FAST, retry_after_cap=30.0, retry_attempts=3))
    try:
        with hostile() as (script, server):
            script.on(
                "/token",
                json_answer({"error": "slow_down"}, 429, {"retry-after": "100000"}),
            )
            with pytest.raises(TokenEndpointError) as caught:
                await oauth.grant(client_credentials.plan, creds(server.issuer))
    finally:
        await oauth.aclose()
    assert len(script.seen) == 1
    assert "dripping" not in str(caught.value)
    assert "asked to wait 28 h" in str(caught.value)


def test_settings_refuse_nan_negative_and_missing_files(tmp_path: Path) -> None:
    import msgspec

    from credenza.config.model import Settings

    for bad in (
        {"deadline": math.nan},
        {"connect_timeout": math.inf},
        {"read_timeout": -1.0},
        {"deadline": 0.0},
        {"retry_attempts": -1},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, Settings)
    # A missing CA file is refused where a client is made (a teammate's path must not stop the
    # offline commands): a config error naming the setting.
    from credenza.config.local import check_ca_bundle
    from credenza.errors import ConfigError

    missing = msgspec.convert({"ca_bundle": str(tmp_path / "missing.pem")}, Settings)
    with pytest.raises(ConfigError, match="ca_bundle"):
        check_ca_bundle(missing, tmp_path / "credenza.toml", None)
    (tmp_path / "ca.pem").write_text("x")
    check_ca_bundle(
        msgspec.convert({"ca_bundle": str(tmp_path / "ca.pem")}, Settings),
        tmp_path / "credenza.toml",
        None,
    )


def test_a_nan_deadline_in_the_config_file_is_a_config_error_with_its_key(tmp_path: Path) -> None:
    from credenza.config.store import ConfigStore
    from credenza.errors import ConfigError

    path = tmp_path / "credenza.toml"
    path.write_text("version = 1\n[settings]\ndeadline = nan\n")
    with pytest.raises(ConfigError, match=r"settings\.deadline"):
        ConfigStore(path).load()


# -- 8. false success -----------------------------------------------------------------------------


async def test_end_session_endpoint_is_not_a_logout_endpoint(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on(
            "/.well-known/oauth-authorization-server",
            metadata(server.issuer, end_session_endpoint=f"{server.issuer}/logout"),
        )
        found = await client.discover(server.issuer)
    assert found.logout_endpoint is None
    assert "logout" not in found.endpoints()


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (200, {"content-type": "text/html"}, "<html><title>Signed out</title></html>"),
        (200, {"content-type": "text/plain"}, "<!DOCTYPE html><p>bye</p>"),
        (204, {}, ""),
        (202, {"content-type": "application/json"}, "{}"),
    ],
)
async def test_revocation_answered_by_anything_but_200_is_unconfirmed(
    client: OAuthClient, status: int, headers: dict[str, str], body: str
) -> None:
    with hostile() as (script, server):
        script.on("/revoke", raw_answer(body, status, headers))
        with pytest.raises(RevocationUnconfirmedError) as caught:
            await client.revoke(creds(server.issuer), f"{server.issuer}/revoke", Secret(TOKEN))
    assert caught.value.exit_code == 1
    assert "could not confirm the token was revoked" in str(caught.value)


async def test_revocation_confirmed_by_a_plain_200(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on("/revoke", raw_answer("", 200))
        await client.revoke(creds(server.issuer), f"{server.issuer}/revoke", Secret(TOKEN))
    assert "token=" in script.seen[0].text


async def test_logout_is_confirmed_only_by_the_profile_answer(client: OAuthClient) -> None:
    telenor = resolve_profile("telenor")
    with hostile() as (script, server):
        script.on("/ok", raw_answer("OK!\n", 200, {"content-type": "text/plain"}))
        script.on("/page", raw_answer("<html>bye</html>", 200, {"content-type": "text/html"}))
        await client.logout(f"{server.issuer}/ok", Secret(TOKEN), telenor)
        with pytest.raises(RevocationUnconfirmedError):
            await client.logout(f"{server.issuer}/page", Secret(TOKEN), telenor)
        custom = replace(telenor, logout_answer="done")
        with pytest.raises(RevocationUnconfirmedError):
            await client.logout(f"{server.issuer}/ok", Secret(TOKEN), custom)


# -- 9. honest classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": "unauthorized_client"}, "grant_not_allowed"),
        (401, {"error": "unauthorized_client"}, "grant_not_allowed"),
        (401, {"error": "invalid_scope"}, "scope"),
        (401, {"error": "unauthorized_scope"}, "scope"),
        (401, {"error": "invalid_client", "error_description": "Unknown client"}, "unknown_client"),
        (
            401,
            {"error": "invalid_client", "error_description": "client_secret_post not allowed"},
            "wrong_auth_method",
        ),
        (401, {"error": "invalid_client", "error_description": "bad credentials"}, "wrong_secret"),
        (500, {"error": "server_error"}, "provider"),
    ],
)
async def test_errors_are_classified_honestly(
    client: OAuthClient, status: int, body: dict[str, str], kind: str
) -> None:
    with hostile() as (script, server):
        script.on("/token", json_answer(body, status))
        with pytest.raises(TokenEndpointError) as caught:
            await client.grant(client_credentials.plan, creds(server.issuer))
    assert error_kind(caught.value) == kind
    if kind != "wrong_secret":
        assert "check the client secret" not in str(caught.value)


async def test_unreachable_is_its_own_kind(client: OAuthClient) -> None:
    from tests.servers import closed_port

    url = closed_port().removesuffix("/token")
    with pytest.raises(TransportError) as caught:
        await client.grant(client_credentials.plan, creds(url))
    assert error_kind(caught.value) == "unreachable"


async def test_an_unknown_token_type_is_named_in_a_warning(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on("/token", token(token_type="mac"))
        issued = await client.grant(client_credentials.plan, creds(server.issuer))
    assert any("'mac'" in warning for warning in token_warnings(issued, ()))


async def test_a_narrower_grant_names_the_missing_scopes(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on("/token", token(scope="read"))
        issued = await client.grant(
            client_credentials.plan, creds(server.issuer, scopes=("read", "write"))
        )
    (warning,) = token_warnings(issued, ("read", "write"))
    assert "did not grant: write" in warning


async def test_an_omitted_scope_means_as_requested(client: OAuthClient) -> None:
    with hostile() as (script, server):
        script.on("/token", token())
        issued = await client.grant(
            client_credentials.plan, creds(server.issuer, scopes=("read", "write"))
        )
    assert issued.scopes == ("read", "write")
    assert issued.scope_text() == "as requested (read write)"
    assert token_warnings(issued, ("read", "write")) == []
    assert Token.from_json(issued.to_json()).scope_omitted


# -- 10. reserved parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "grant_type",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "scope",
        "code",
        "code_verifier",
        "refresh_token",
        "redirect_uri",
        "api_key",
        "x-secret",
        "password",
        "access_token",
    ],
)
def test_reserved_and_secret_looking_params_are_refused(name: str) -> None:
    assert param_problem(name) is not None
    with pytest.raises(ValidationError):
        apply_param_edits({}, [f"{name}={SECRET}"])


def test_param_edits_add_and_remove() -> None:
    params = apply_param_edits({"tenant": "a"}, ["audience_hint=x", "tenant="])
    assert params == {"audience_hint": "x"}
    # Removing is always allowed, so a hand-edited config can be repaired from the CLI.
    assert apply_param_edits({"grant_type": "password"}, ["grant_type="]) == {}


async def test_a_reserved_param_from_a_hand_edited_config_sends_nothing(
    client: OAuthClient,
) -> None:
    with hostile() as (script, server):
        script.on("/token", token())
        with pytest.raises(ValidationError) as caught:
            await client.grant(
                client_credentials.plan,
                creds(server.issuer, extra_params={"grant_type": "password"}),
            )
    assert script.seen == []
    assert SECRET not in str(caught.value)


def test_verbose_never_prints_a_token_answer_it_cannot_parse() -> None:
    from credenza.oauth.transcript import _mask_body

    big = json.dumps({"refresh_token": "RT-SECRET-VALUE-123456", "access_token": "A" * 9000})
    assert "RT-SECRET" not in _mask_body(big.encode())  # over 8 KiB: still parsed and masked
    form = b"access_token=AT-SECRET-VALUE-987654&token_type=bearer"
    assert "AT-SECRET" not in _mask_body(form)  # not JSON: not shown at all
