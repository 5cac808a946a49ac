"""OpenID Connect id_tokens: checked (OIDC Core §3.1.3.7) before a word of them is believed.

The signature is checked by PyJWT against the issuer's published keys (its JWK Set at the
``jwks_uri`` its discovery metadata names, fetched once per workspace and again when a token
names a key the cached set lacks or its signature fails against the cached keys, at most once a
minute per set); then ``iss``, ``aud`` and ``azp``, the times against
credenza's own clock, and the ``nonce`` of the sign-in. Only asymmetric algorithms are accepted:
``none`` and the HMAC family (keyed with the client secret) never are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from credenza.errors import CredenzaError, IdTokenError, IdTokenUnverifiableError
from credenza.next_steps import step
from credenza.oauth.tokens import claim_time
from credenza.oauth.untrusted import clean, is_clean

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient
    from credenza.secrets import Secret

# Clocks differ a little between a provider and this machine: a minute either way is forgiven.
LEEWAY = timedelta(seconds=60)
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
# A JWK Set larger than this is not a provider's key list.
_MAX_KEYS = 100
# A cached JWK Set is fetched again (a provider that rotated its keys) at most this often: tokens
# naming unknown keys, or with signatures no key verifies, cannot make credenza hammer the
# provider.
REFETCH_EVERY = timedelta(seconds=60)


@dataclass
class _Issuer:
    issuer: str  # as the metadata declares it: what `iss` must equal
    jwks_uri: str


class KeySets:
    """Each issuer's declared name and JWK Set, fetched once per workspace (a dashboard signs in
    many times); fetched again for a provider that rotated its keys (see ``may_refetch``). The
    issuer's metadata stays for the workspace's life: only the keys rotate."""

    def __init__(self) -> None:
        self._issuers: dict[str, _Issuer] = {}
        self._sets: dict[str, list[dict[str, Any]]] = {}
        self._refetched: dict[str, datetime] = {}

    def cached(self, uri: str) -> bool:
        return uri in self._sets

    def may_refetch(self, uri: str, now: datetime) -> bool:
        """Whether the set at ``uri`` may be fetched again now (once a minute at most), counting
        the refetch when it may."""
        last = self._refetched.get(uri)
        if last is not None and now - last < REFETCH_EVERY:
            return False
        self._refetched[uri] = now
        return True

    async def issuer(self, client: OAuthClient, issuer: str) -> _Issuer:
        found = self._issuers.get(issuer)
        if found is None:
            with _cannot_check():
                metadata = await client.discover(issuer)
            uri = metadata.jwks_uri
            if not uri:
                raise IdTokenUnverifiableError(
                    f"the provider sent an id_token, but its metadata at {clean(issuer)} names "
                    "no jwks_uri to check it with",
                    hint="credenza refuses identities it cannot check; sign in without the "
                    "openid scope, or ask the provider to publish its keys",
                )
            if not is_clean(uri) or " " in uri:
                raise IdTokenUnverifiableError(
                    f"the jwks_uri in {clean(issuer)}'s metadata has control characters or spaces"
                )
            found = _Issuer(metadata.issuer, uri)
            self._issuers[issuer] = found
        return found

    async def keys(
        self, client: OAuthClient, uri: str, *, refetch: bool = False
    ) -> list[dict[str, Any]]:
        if refetch or uri not in self._sets:
            with _cannot_check():
                data = await client.get_json("jwks", uri)
            keys = data.get("keys")
            if not isinstance(keys, list) or len(keys) > _MAX_KEYS:
                raise IdTokenUnverifiableError(
                    f"the JWK Set at {clean(uri)} has no list of keys",
                    hint="the jwks_uri in the provider's metadata may be wrong",
                )
            self._sets[uri] = [key for key in keys if isinstance(key, dict)]
        return self._sets[uri]


@contextmanager
def _cannot_check() -> Iterator[None]:
    """A provider whose keys cannot be had (down, http, not JSON): the sign-in fails as one whose
    id_token failed a check, since credenza cannot believe it; marked unverifiable (not forged),
    so that a refresh keeps what it already stored."""
    try:
        yield
    except IdTokenUnverifiableError:
        raise
    except IdTokenError as exc:
        raise IdTokenUnverifiableError(
            exc.message, hint=exc.hint, next_steps=exc.next_steps
        ) from None
    except CredenzaError as exc:
        raise IdTokenUnverifiableError(
            f"the id_token cannot be checked: {exc.message}",
            hint=exc.hint,
            next_steps=exc.next_steps,
        ) from None


async def verify(
    client: OAuthClient,
    id_token: Secret,
    *,
    issuer: str | None,
    client_id: str,
    now: datetime,
    nonce: str | None = None,
    subject: str | None = None,
    key_sets: KeySets,
) -> dict[str, Any]:
    """The id_token's claims once every check holds; IdTokenError (one line, never the token)
    otherwise. ``nonce`` is the one the authorization request carried; ``subject`` the ``sub``
    of the sign-in a refreshed id_token must still be about (OIDC Core §12.2); ``key_sets`` the
    workspace's cache of issuers' keys (what a dashboard fetched for one sign-in serves the
    next)."""
    if not issuer:
        raise IdTokenUnverifiableError(
            "the provider sent an id_token, but the environment has no issuer to check it against",
            hint="give the environment its issuer ({0}) and sign in again",
            next_steps=(step("edit_environment", "APP", "ENV", issuer="URL"),),
        )
    raw = id_token.reveal()
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise IdTokenError("the provider sent an id_token that is not a signed JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        shown = clean(alg, limit=20) if isinstance(alg, str) else "no algorithm"
        raise IdTokenError(
            f"the id_token is signed with {shown}; credenza accepts only public-key signatures "
            f"({', '.join(ALGORITHMS)})",
        )
    kid = header.get("kid")
    kid = kid if isinstance(kid, str) else None
    found = await key_sets.issuer(client, issuer)
    uri = found.jwks_uri
    was_cached = key_sets.cached(uri)
    keys = _candidates(await key_sets.keys(client, uri), kid, alg)
    claims = _decode(raw, keys, alg, found.issuer, client_id)
    if claims is None and was_cached and key_sets.may_refetch(uri, now):
        # A provider that rotated its keys since they were fetched: the token names a key the
        # cached set lacks, or (no kid) no cached key verifies its signature.
        keys = _candidates(await key_sets.keys(client, uri, refetch=True), kid, alg)
        claims = _decode(raw, keys, alg, found.issuer, client_id)
    if not keys:
        which = f"key {clean(kid, limit=60)!r}" if kid else f"an {alg} key"
        raise IdTokenError(
            f"the id_token is signed with {which}, which the issuer does not publish at its "
            "jwks_uri",
            hint="a forged id_token, or a provider mid key rotation; sign in again",
        )
    if claims is None:
        raise IdTokenError(
            "the id_token's signature does not verify against the issuer's published keys",
            hint="a tampered or forged id_token; nothing was stored — sign in again",
        )
    _check(claims, client_id=client_id, now=now, nonce=nonce, subject=subject)
    return claims


def _candidates(keys: list[dict[str, Any]], kid: str | None, alg: str) -> list[jwt.PyJWK]:
    """The published signing keys this token may be signed with, loaded for its algorithm."""
    found = []
    for data in keys:
        if kid is not None and data.get("kid") != kid:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        try:
            found.append(jwt.PyJWK(data, algorithm=alg))
        except jwt.PyJWTError:
            continue  # a key of another type (an RSA key for ES256) or one PyJWT cannot read
    return found


def _decode(
    raw: str, keys: list[jwt.PyJWK], alg: str, issuer: str, client_id: str
) -> dict[str, Any] | None:
    """The claims, once one of ``keys`` verifies the signature; None when none does (also when
    there are none); IdTokenError for a token that is signed right but wrong otherwise."""
    options: Any = {
        # Times are checked against credenza's own clock (frozen in tests), below.
        "verify_exp": False,
        "verify_iat": False,
        "verify_nbf": False,
        "require": ["iss", "sub", "aud", "exp", "iat"],
    }
    for key in keys:
        try:
            claims: dict[str, Any] = jwt.decode(
                raw, key, algorithms=[alg], audience=client_id, issuer=issuer, options=options
            )
            return claims
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidAudienceError:
            raise IdTokenError(
                f"the id_token is for another client: its aud does not hold {client_id}",
                hint="an id_token meant for another application; sign in again",
            ) from None
        except jwt.InvalidIssuerError:
            raise IdTokenError(
                f"the id_token was issued by {_claim(raw, 'iss')}, not {clean(issuer)}",
                hint="a mix-up or a misconfigured issuer; check the environment's issuer and sign "
                "in again",
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise IdTokenError(f"the id_token has no {clean(exc.claim, limit=20)} claim") from None
        except jwt.PyJWTError as exc:
            raise IdTokenError(f"the id_token is malformed ({type(exc).__name__})") from None
    return None


def _check(
    claims: dict[str, Any],
    *,
    client_id: str,
    now: datetime,
    nonce: str | None,
    subject: str | None,
) -> None:
    audience = claims.get("aud")
    azp = claims.get("azp")
    several = isinstance(audience, list) and len(audience) > 1
    if (several or azp is not None) and azp != client_id:
        raise IdTokenError(
            "the id_token names several audiences and is not authorized for this client (azp "
            f"is {clean(azp, limit=60) if isinstance(azp, str) else 'missing'}, not {client_id})",
            hint="an id_token meant for another application; sign in again",
        )
    expires, issued = claim_time(claims.get("exp")), claim_time(claims.get("iat"))
    if expires is None or issued is None:
        raise IdTokenError("the id_token's exp or iat is not a time")
    if expires <= now - LEEWAY:
        raise IdTokenError(
            f"the id_token expired at {expires:%Y-%m-%d %H:%M:%S} UTC (this machine's clock says "
            f"{now:%Y-%m-%d %H:%M:%S} UTC)",
            hint="check this machine's clock, then sign in again",
        )
    not_before = claim_time(claims.get("nbf")) if "nbf" in claims else None
    if issued > now + LEEWAY or (not_before is not None and not_before > now + LEEWAY):
        raise IdTokenError(
            f"the id_token was issued in the future ({issued:%Y-%m-%d %H:%M:%S} UTC; this "
            f"machine's clock says {now:%Y-%m-%d %H:%M:%S} UTC)",
            hint="check this machine's clock, then sign in again",
        )
    if nonce is not None and claims.get("nonce") != nonce:
        raise IdTokenError(
            "the id_token's nonce is not the one this sign-in sent",
            hint="a replayed or injected answer; nothing was stored — sign in again",
        )
    if subject is not None and claims.get("sub") != subject:
        raise IdTokenError(
            "the refreshed id_token names another user than the one who signed in",
            hint="sign in again",
        )


def _claim(raw: str, name: str) -> str:
    """One claim of a token already refused, for the message (cleaned, short)."""
    try:
        value = jwt.decode(raw, options={"verify_signature": False}).get(name)
    except (jwt.PyJWTError, CredenzaError):
        return "?"
    return repr(clean(value, limit=80)) if isinstance(value, str) else "?"
