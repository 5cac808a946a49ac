"""Grants, client-authentication methods and token bindings declare themselves in registries:
what they need, what they send and what of it is secret, and everything else asks the registry."""

from __future__ import annotations

import pytest

from credenza.config.auth_methods import AUTH_METHODS
from credenza.oauth import grants
from credenza.oauth.auth import METHODS
from credenza.oauth.binding import BINDINGS
from credenza.oauth.grants import (
    DEVICE_CODE,
    GRANTS,
    Grant,
    declares,
    grant_type_of,
    needs,
    signs_in,
    token_grant,
)
from credenza.oauth.params import param_problem
from credenza.oauth.transcript import Transcript
from credenza.oauth.untrusted import NOTHING
from credenza.sandbox import clients

VALUE = "zq7-declared-secret-value"


def transcript(form: dict[str, str], headers: dict[str, str] | None = None) -> Transcript:
    return Transcript(
        "POST", "https://as.example/token", headers or {}, form, 200, {}, b"{}", NOTHING
    )


def declared_secret_fields() -> set[str]:
    fields = {field for grant in GRANTS for field in grant.secret_fields}
    return fields | {field for method in METHODS.values() for field in method.secret_fields}


def test_every_secret_field_a_grant_or_auth_method_declares_is_masked_in_the_transcript() -> None:
    fields = declared_secret_fields()
    assert {"client_secret", "client_assertion", "code_verifier", "password"} <= fields
    for field in fields:
        shown = transcript({field: VALUE})
        assert VALUE not in "\n".join([*shown.request_lines(), shown.curl()]), field


def test_every_field_a_grant_or_auth_method_sends_itself_is_refused_as_an_extra_parameter() -> None:
    sent = {field for grant in GRANTS for field in grant.sent_fields | grant.secret_fields}
    sent |= {field for method in METHODS.values() for field in method.sent_fields}
    assert {"redirect_uri", "username", "device_code", "client_id"} <= sent
    for field in sent:
        assert param_problem(field) is not None, field
    assert param_problem("audience") is None  # sent from the config, replaceable by --param


def test_the_password_is_the_one_personal_secret_and_the_password_grant_declares_it() -> None:
    from credenza.oauth.transcript import PERSONAL_SECRETS

    assert {"password"} == PERSONAL_SECRETS  # declared by the password grant alone


def test_the_grant_an_application_gets_tokens_with_is_the_first_registered_one_it_declares() -> (
    None
):
    assert token_grant(["password", "authorization_code", "client_credentials"]) == (
        "client_credentials"
    )
    assert token_grant(["refresh_token", DEVICE_CODE]) == "device_code"
    assert token_grant(["refresh_token"]) is None  # renews, never starts
    assert token_grant(["implicit"]) is None
    assert signs_in(["password", "refresh_token"])
    assert not signs_in(["client_credentials", "password"])
    assert declares([DEVICE_CODE], "device_code")
    assert declares(["device_code"], "device_code")
    assert not declares(["authorization_code"], "password")
    assert grant_type_of("device_code") == DEVICE_CODE
    assert grant_type_of("implicit") == "implicit"
    assert needs("device_code") == {"token_endpoint", "device_authorization_endpoint"}


def test_a_grant_registered_in_the_registry_is_used_without_changing_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jwt_bearer = Grant(
        name="jwt_bearer",
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        signs_in=False,
        needs=frozenset({"token_endpoint"}),
        sent_fields=frozenset({"grant_type"}),
        secret_fields=frozenset({"assertion"}),
    )
    monkeypatch.setattr(grants, "GRANTS", (*GRANTS, jwt_bearer))
    declared = ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert token_grant(declared) == "jwt_bearer"
    assert not signs_in(declared)
    assert "assertion" in grants.secret_fields()


def test_every_auth_method_the_config_and_the_sandbox_name_is_registered_once() -> None:
    assert set(METHODS) == set(AUTH_METHODS)
    assert clients.AUTH_METHODS is AUTH_METHODS
    assert all(name == method.name for name, method in METHODS.items())


def test_a_token_bindings_proof_header_is_masked_and_a_placeholder_in_curl() -> None:
    dpop = BINDINGS["dpop"]
    shown = transcript({"grant_type": "client_credentials"}, {dpop.header: VALUE})
    assert VALUE not in "\n".join([*shown.request_lines(), shown.curl()])
    assert '"$DPOP_PROOF"' in shown.curl()
