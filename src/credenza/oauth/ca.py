"""The CA certificates a TLS context trusts: the config's ca_bundle, read as a bounded regular file."""

from __future__ import annotations

import ssl

from credenza.config.files import CA_BUNDLE_CAP, read_regular
from credenza.errors import ConfigError
from credenza.oauth.untrusted import clean

_HINT = "point ca_bundle under [settings] at a PEM file of CA certificates"


def ca_context(ca_bundle: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the CA certificates in ``ca_bundle`` (a path already taken
    from the config's directory); ConfigError, exit 2, for anything but a regular PEM file under
    the cap: OpenSSL never opens the path itself, so a FIFO or a device cannot hang or flood it."""
    shown = clean(ca_bundle, limit=120)
    data = read_regular(
        ca_bundle, cap=CA_BUNDLE_CAP, what=f"settings.ca_bundle ({shown})", hint=_HINT
    )
    try:
        return ssl.create_default_context(cadata=data.decode("ascii"))
    except (UnicodeDecodeError, ValueError, ssl.SSLError) as exc:
        raise ConfigError(
            f"the ca_bundle {shown} cannot be used ({clean(exc, limit=80)})", hint=_HINT
        ) from None


def default_roots() -> ssl.SSLContext:
    """What httpx trusts for ``verify=True`` with trust_env off: certifi's roots (Mozilla's), as
    the blocking http.client driver and the mTLS contexts also trust them."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
