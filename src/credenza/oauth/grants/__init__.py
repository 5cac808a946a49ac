"""Grants, one module each, and their registry: everything outside ``oauth/grants/`` asks here.

A grant module declares a ``GRANT`` (``base.Grant``: its name, whether a person signs in, what
it needs, which form fields it sends and which of them are secret) and a ``plan`` that builds
its token request (``client.grant(module.plan, ...)`` runs it on either driver). Adding a grant
is that module and one line in ``GRANTS`` below, whose order is also the order of preference
when an application declares several.
"""

from __future__ import annotations

from collections.abc import Iterable

from credenza.oauth.grants import authorization_code, client_credentials, device, password, refresh
from credenza.oauth.grants.base import Grant, Need
from credenza.oauth.grants.device import DEVICE_CODE

# The registry. First the client acting for itself; then the ways a person signs in, the
# deprecated password grant (RFC 9700) last; refresh_token only renews what those got.
GRANTS: tuple[Grant, ...] = (
    client_credentials.GRANT,
    authorization_code.GRANT,
    device.GRANT,
    password.GRANT,
    refresh.GRANT,
)

# The name of a registered grant (``Grant.name``): the grant an environment gets its tokens with.
GrantName = str
# Every word an application may declare a grant a person signs in with by.
USER_GRANTS = frozenset(word for grant in GRANTS if grant.signs_in for word in grant.declared_as)

# Recorded where a provider lists it (Anypoint), never run: the token comes back in the URL
# fragment, where history, referrers and extensions see it.
IMPLICIT_REFUSAL = (
    "RFC 9700 (the OAuth 2.0 Security Best Current Practice) says clients must not use it, "
    "since the token travels in the URL; credenza signs in with authorization_code and PKCE "
    "instead"
)


def grant_named(name: str) -> Grant | None:
    """The registered grant an application's grant type names, by any of its spellings."""
    for grant in GRANTS:
        if name in grant.declared_as:
            return grant
    return None


def grant_for(grant_types: Iterable[str]) -> Grant | None:
    """The grant `credenza token` uses for an application with these grant types.

    The first registered grant it declares that can start (client_credentials when declared:
    the client acting for itself; else the user grant it declares, whose token a person obtains
    once with `credenza login` and credenza then keeps fresh with the refresh token). None when
    it declares nothing credenza can get a token with.
    """
    declared = set(grant_types)
    for grant in GRANTS:
        if grant.starts and declared & grant.declared_as:
            return grant
    return None


def token_grant(grant_types: Iterable[str]) -> GrantName | None:
    """The name of ``grant_for``'s grant."""
    grant = grant_for(grant_types)
    return None if grant is None else grant.name


def signs_in(grant_types: Iterable[str]) -> bool:
    """Whether an application's tokens come from a person signing in (not the client alone)."""
    grant = grant_for(grant_types)
    return grant is not None and grant.signs_in


def declares(grant_types: Iterable[str], name: GrantName) -> bool:
    """Whether an application declares the registered grant ``name`` (by any spelling)."""
    grant = grant_named(name)
    return grant is not None and bool(set(grant_types) & grant.declared_as)


def grant_type_of(name: str) -> str:
    """What a token request (and RFC 7591 registration) calls the grant an application names
    ``name``; a name no registered grant has is returned as it is."""
    grant = grant_named(name)
    return name if grant is None else grant.grant_type


def needs(name: GrantName) -> frozenset[Need]:
    """What the registered grant ``name`` needs of an environment (nothing for an unknown one)."""
    grant = grant_named(name)
    return frozenset() if grant is None else grant.needs


def sent_fields() -> frozenset[str]:
    """Every form field some grant sends itself (no extra parameter may take its name)."""
    return frozenset(field for grant in GRANTS for field in grant.sent_fields | grant.secret_fields)


def secret_fields() -> frozenset[str]:
    """Every form field of a grant that carries a credential (masked, redacted from echoes)."""
    return frozenset(field for grant in GRANTS for field in grant.secret_fields)


def personal_fields() -> frozenset[str]:
    """The secret fields a person chose: an echo of one is redacted whatever its length."""
    return frozenset(field for grant in GRANTS for field in grant.personal_fields)


__all__ = [
    "DEVICE_CODE",
    "GRANTS",
    "IMPLICIT_REFUSAL",
    "USER_GRANTS",
    "Grant",
    "GrantName",
    "Need",
    "declares",
    "grant_for",
    "grant_named",
    "grant_type_of",
    "needs",
    "personal_fields",
    "secret_fields",
    "sent_fields",
    "signs_in",
    "token_grant",
]
