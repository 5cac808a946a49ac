"""client_secret_basic: the id and secret in an HTTP Basic header (RFC 6749 §2.3.1)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote_plus

from credenza.config.auth_methods import AuthMethod
from credenza.oauth.auth.base import ClientAuthentication, OutgoingRequest
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials


def basic_authorization(client_id: str, secret: Secret, encoding: str) -> str:
    """The Authorization header for client_secret_basic.

    RFC 6749 §2.3.1 form-encodes id and secret before Base64; many servers expect them raw.
    """
    if encoding == "raw":
        user, password = client_id, secret.reveal()
    else:
        user, password = quote_plus(client_id), quote_plus(secret.reveal())
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class ClientSecretBasic(ClientAuthentication):
    """The id and secret in the Authorization header: no form field of its own."""

    name: ClassVar[AuthMethod] = "client_secret_basic"

    def apply(
        self, credentials: ClientCredentials, request: OutgoingRequest, now: datetime
    ) -> None:
        request.headers["Authorization"] = basic_authorization(
            credentials.client_id, credentials.secret, credentials.basic_auth_encoding
        )
