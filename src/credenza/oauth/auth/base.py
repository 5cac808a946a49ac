"""What every client-authentication method declares and implements, and the request it decorates."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from credenza.config.auth_methods import AuthMethod

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials

# What the keyring entry of a credential holds under each method.
SecretKind = Literal["client_secret", "private_key", "none"]


@dataclass
class OutgoingRequest:
    """A client-authenticated POST before it is sent: a method adds a header or form fields."""

    url: str
    form: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


class ClientAuthentication:
    """One way for a client to prove who it is at the token endpoint (RFC 6749 §2.3).

    A method declares its ``name`` (one of ``config.auth_methods``), the ``secret_kind`` its
    keyring entry holds, the form fields it sends itself (``sent_fields``: no extra parameter
    may take their names) and which of them carry a credential (``secret_fields``: masked in the
    ``--verbose`` transcript and redacted from a server's echo); then how it authenticates.
    """

    name: ClassVar[AuthMethod]
    secret_kind: ClassVar[SecretKind] = "client_secret"
    sent_fields: ClassVar[frozenset[str]] = frozenset()
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def apply(
        self, credentials: ClientCredentials, request: OutgoingRequest, now: datetime
    ) -> None:
        """Add what proves the client's identity to ``request``."""

    def tls_identity(self, credentials: ClientCredentials) -> str | None:
        """A key naming the client certificate this method presents, if any (one pool each)."""
        return None

    def ssl_context(
        self, credentials: ClientCredentials, ca_bundle: str | None
    ) -> ssl.SSLContext | None:
        """A TLS context carrying a client certificate, for the methods that use one."""
        return None
