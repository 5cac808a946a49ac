"""client_secret_post: the id and secret in the form body (RFC 6749 §2.3.1), and public clients."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from credenza.config.auth_methods import AuthMethod
from credenza.oauth.auth.base import ClientAuthentication, OutgoingRequest, SecretKind

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials


class ClientSecretPost(ClientAuthentication):
    name: ClassVar[AuthMethod] = "client_secret_post"
    sent_fields: ClassVar[frozenset[str]] = frozenset({"client_id", "client_secret"})
    secret_fields: ClassVar[frozenset[str]] = frozenset({"client_secret"})

    def apply(
        self, credentials: ClientCredentials, request: OutgoingRequest, now: datetime
    ) -> None:
        request.form["client_id"] = credentials.client_id
        request.form["client_secret"] = credentials.secret.reveal()


class PublicClient(ClientAuthentication):
    """``none`` (RFC 7591): a native app without a secret names itself; PKCE binds its codes."""

    name: ClassVar[AuthMethod] = "none"
    secret_kind: ClassVar[SecretKind] = "none"
    sent_fields: ClassVar[frozenset[str]] = frozenset({"client_id"})

    def apply(
        self, credentials: ClientCredentials, request: OutgoingRequest, now: datetime
    ) -> None:
        request.form["client_id"] = credentials.client_id
