"""tls_client_auth and self_signed_tls_client_auth: a client certificate in the TLS handshake
(RFC 8705 §2). The certificate is a file; its private key lives in the keyring and never lands in
a plain file: OpenSSL reads it from an anonymous in-memory file (memfd), or, where there is none,
from a 0600 file in a fresh 0700 directory that is removed as soon as the key is loaded."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from credenza.config.auth_methods import AuthMethod
from credenza.config.files import CERTIFICATE_CAP, read_regular
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.oauth.auth.base import ClientAuthentication, OutgoingRequest, SecretKind
from credenza.oauth.ca import ca_context, default_roots
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.plan import ClientCredentials


@contextlib.contextmanager
def _key_file(pem: Secret, certificate: bytes = b"") -> Iterator[str]:
    """A path OpenSSL can read the key from (after ``certificate``, when given: one file holds
    both), alive only inside the ``with``."""
    data = (
        certificate + b"\n" + pem.reveal().encode("utf-8")
        if certificate
        else pem.reveal().encode("utf-8")
    )
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        fd = os.memfd_create("credenza-client-key", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    directory = tempfile.mkdtemp(prefix="credenza-", dir=runtime if runtime else None)
    path = os.path.join(directory, "key.pem")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.rmdir(directory)


def _default_context() -> ssl.SSLContext:
    """What httpx.create_ssl_context() trusts (SSL_CERT_FILE, SSL_CERT_DIR, else certifi's
    roots), made without importing httpx (~45 ms of a one-shot command)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return default_roots()


def client_ssl_context(certificate: str, key: Secret, ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying TLS context that presents ``certificate`` with ``key``."""
    context = ca_context(ca_bundle) if ca_bundle else _default_context()
    chain = _read_certificate(certificate)
    try:
        # OpenSSL reads the chain and the key from the one in-memory file: it never opens the
        # configured path itself (a FIFO there would hang it).
        with _key_file(key, chain) as path:
            context.load_cert_chain(path)
    except ssl.SSLError:
        raise ValidationError(
            f"the client certificate {certificate} and the private key in the keyring do not "
            "belong together, or one of them is not PEM",
            hint="store the certificate's key with `{0}`",
            next_steps=(step("set_secret", "APP", "ENV", private_key=None),),
        ) from None
    return context


def _read_certificate(certificate: str) -> bytes:
    return read_regular(
        certificate,
        cap=CERTIFICATE_CAP,
        what=f"the client certificate {certificate}",
        hint="set the certificate path with `{0}`",
        next_steps=(step("edit_environment", "APP", "ENV", certificate="PATH"),),
        error=ValidationError,
    )


def identity_key(certificate: str, key: Secret) -> str:
    """What tells two client identities apart (for one HTTP connection pool per identity)."""
    digest = hashlib.sha256(key.reveal().encode("utf-8")).hexdigest()
    return f"{os.path.abspath(certificate)}#{digest}"


def certificate_jwks(certificate: str) -> dict[str, Any]:
    """The JWKS with x5c that registers a self-signed certificate (RFC 8705 §2.2)."""
    # Here, not at the top: cryptography costs 30 ms of every `credenza token` otherwise.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(_read_certificate(certificate))
    except ValueError:
        raise ValidationError(f"{certificate} is not a readable PEM certificate") from None
    der = cert.public_bytes(serialization.Encoding.DER)
    return {"keys": [{"x5c": [base64.b64encode(der).decode("ascii")]}]}


class TlsClientAuth(ClientAuthentication):
    """A certificate from a CA the provider trusts, matched by subject or SAN (RFC 8705 §2.1)."""

    name: ClassVar[AuthMethod] = "tls_client_auth"
    secret_kind: ClassVar[SecretKind] = "private_key"
    sent_fields: ClassVar[frozenset[str]] = frozenset({"client_id"})

    def apply(
        self, credentials: ClientCredentials, request: OutgoingRequest, now: datetime
    ) -> None:
        request.form["client_id"] = credentials.client_id  # §2: the client_id is still sent

    def tls_identity(self, credentials: ClientCredentials) -> str | None:
        return identity_key(credentials.certificate or "", credentials.secret)

    def ssl_context(
        self, credentials: ClientCredentials, ca_bundle: str | None
    ) -> ssl.SSLContext | None:
        if not credentials.certificate:
            raise ValidationError(
                f"{self.name} needs a client certificate",
                hint="set it with `{0}`",
                next_steps=(step("edit_environment", "APP", "ENV", certificate="PATH"),),
            )
        return client_ssl_context(credentials.certificate, credentials.secret, ca_bundle)


class SelfSignedTlsClientAuth(TlsClientAuth):
    """A self-signed certificate registered at the provider (RFC 8705 §2.2)."""

    name: ClassVar[AuthMethod] = "self_signed_tls_client_auth"
