"""Token bindings, one module each (RFC 9449 DPoP), and their registry.

A binding module declares a ``BINDING`` (``base.TokenBinding``: its name, the key it keeps, how it
makes and loads that key, the headers its proofs and nonces travel in); adding one is that module
and one line in ``BINDINGS`` below.
"""

from __future__ import annotations

from credenza.oauth.binding import dpop
from credenza.oauth.binding.base import TokenBinding

# The registry.
BINDINGS: dict[str, TokenBinding] = {binding.name: binding for binding in (dpop.BINDING,)}

__all__ = ["BINDINGS", "TokenBinding"]
