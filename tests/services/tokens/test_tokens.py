"""Token responses: provider quirks in expires_in, token_type and scope; JWT claims; the cache form."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credenza.errors import CredenzaError, InvalidResponseError
from credenza.oauth.tokens import MAX_LIFETIME, Token, decode_jwt, parse_token_response

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_expires_in_as_a_string_is_understood() -> None:
    # The Telenor seed's example response sends "3600".
    token = parse_token_response(
        {"access_token": "abc", "expires_in": "3600", "token_type": "Bearer"}, issued_at=NOW
    )
    assert token.expires_at == NOW + timedelta(seconds=3600)


def test_missing_or_lowercase_token_type_means_bearer() -> None:
    assert parse_token_response({"access_token": "a"}).token_type == "Bearer"
    assert (
        parse_token_response({"access_token": "a", "token_type": "bearer"}).token_type == "Bearer"
    )
    assert parse_token_response({"access_token": "a", "token_type": "DPoP"}).token_type == "DPoP"


def test_absent_expiry_is_kept_as_unknown() -> None:
    token = parse_token_response({"access_token": "a"}, issued_at=NOW)
    assert token.expires_at is None
    assert token.seconds_left(NOW) is None
    assert token.is_usable(NOW + timedelta(days=400), skew=60)


@pytest.mark.parametrize("scope", ["read write", "read,write", "read, write", " read  write "])
def test_scope_space_or_comma_separated(scope: str) -> None:
    assert parse_token_response({"access_token": "a", "scope": scope}).scopes == ("read", "write")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"token_type": "Bearer"}, "without an access_token"),
        ({"access_token": ""}, "without an access_token"),
        ({"access_token": "a", "expires_in": "soon"}, "not a number of seconds"),
        ({"access_token": "a", "expires_in": -5}, "cannot expire in the past"),
        ({"access_token": "a", "expires_in": True}, "not a number"),
        ({"access_token": "a", "expires_in": [1]}, "not a number"),
        (["access_token"], "not an object"),
    ],
)
def test_bad_token_responses_are_clear_errors(body: object, words: str) -> None:
    with pytest.raises(InvalidResponseError, match=words):
        parse_token_response(body)


def test_a_huge_expires_in_is_capped_instead_of_overflowing() -> None:
    for huge in (2**63, 1e308, "1e308"):
        token = parse_token_response({"access_token": "a", "expires_in": huge}, issued_at=NOW)
        assert token.expires_at == NOW + MAX_LIFETIME


def test_skew_makes_a_nearly_expired_token_unusable() -> None:
    token = parse_token_response({"access_token": "a", "expires_in": 100}, issued_at=NOW)
    assert token.is_usable(NOW + timedelta(seconds=39), skew=60)
    assert not token.is_usable(NOW + timedelta(seconds=41), skew=60)
    assert token.lifetime_fraction_left(NOW + timedelta(seconds=25)) == pytest.approx(0.75)


def test_refresh_token_is_kept_masked() -> None:
    token = parse_token_response({"access_token": "a", "refresh_token": "r-secret"})
    assert token.refresh_token is not None
    assert token.refresh_token.reveal() == "r-secret"
    assert "r-secret" not in repr(token)


def test_cache_form_round_trips_and_damage_is_an_error() -> None:
    token = parse_token_response(
        {"access_token": "a", "expires_in": 60, "scope": "x y", "refresh_token": "r"}, issued_at=NOW
    )
    assert Token.from_json(token.to_json()) == token
    with pytest.raises(InvalidResponseError):
        Token.from_json('{"v": 1}')


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_jwt_header_and_claims_are_decoded_locally() -> None:
    jwt = f"{_b64({'alg': 'RS256', 'kid': 'k1'})}.{_b64({'sub': 'client', 'scope': 'a b'})}.sig"
    parts = decode_jwt(jwt)
    assert parts is not None
    assert parts.header == {"alg": "RS256", "kid": "k1"}
    assert parts.claims["sub"] == "client"


@pytest.mark.parametrize("opaque", ["abc", "a.b", "a.b.c", f"{_b64({'a': 1})}.bm90IGpzb24.x"])
def test_opaque_tokens_are_not_jwts(opaque: str) -> None:
    assert decode_jwt(opaque) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
token_like = st.fixed_dictionaries(
    {},
    optional={
        "access_token": json_values,
        "expires_in": json_values | st.text(max_size=12),
        "token_type": json_values,
        "scope": json_values,
        "refresh_token": json_values,
    },
)


@given(body=json_values | token_like)
def test_any_json_either_parses_or_raises_a_credenza_error(body: object) -> None:
    try:
        token = parse_token_response(body)
    except CredenzaError:
        return
    assert token.access_token.reveal()


@given(text=st.text(max_size=200))
def test_any_text_is_a_jwt_or_none(text: str) -> None:
    result = decode_jwt(text)
    assert result is None or isinstance(result.claims, dict)
