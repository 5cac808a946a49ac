"""What a grant declares about itself: the entry each grant module registers in ``grants``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What a grant needs of an environment before it can run.
Need = Literal[
    "token_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "callback_url",
    "username_and_password",
    "refresh_token",
]


@dataclass(frozen=True)
class Grant:
    """One grant, as everything else in credenza sees it (how it runs is its module's ``plan``).

    ``name`` is the grant in an application's grant types and in messages; ``grant_type`` what
    its token request sends (RFC 8628's is a URN), ``aliases`` other spellings an application may
    declare it by. ``signs_in``: a person signs in, and credenza then keeps the tokens fresh with
    the refresh token; otherwise the client gets its token on its own. ``starts`` is False for a
    grant that only renews a token another grant got (refresh_token), so it is never the grant an
    application's tokens come from.

    ``sent_fields`` are the form fields the grant sends itself and ``secret_fields`` those of
    them that carry a credential: no extra parameter (`--param`) may take any of their names,
    and the ``--verbose`` transcript masks the secret ones. ``personal_fields`` are the secret
    fields a person chose (a password): an echo of one is redacted whatever its length.
    """

    name: str
    grant_type: str
    signs_in: bool
    needs: frozenset[Need]
    sent_fields: frozenset[str] = frozenset()
    secret_fields: frozenset[str] = frozenset()
    personal_fields: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    starts: bool = True

    @property
    def declared_as(self) -> frozenset[str]:
        """Every word an application's grant types may name this grant by."""
        return frozenset({self.name, self.grant_type, *self.aliases})
