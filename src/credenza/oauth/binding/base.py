"""What a token binding declares about itself: the entry each binding module registers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from credenza.secrets import Secret


@dataclass(frozen=True)
class TokenBinding:
    """One way of tying a token to a key the client holds, so a stolen token alone is useless.

    ``name`` is the environment's switch for it (``dpop = true``); ``key`` says what it keeps in
    the keyring, ``new_key`` makes one and ``load`` reads it back into the object that signs a
    proof for each request; the proof travels in the request header ``header`` (masked whole in
    the ``--verbose`` transcript, ``placeholder`` in its curl line), a server's nonce for the
    next proof in the answer header ``nonce_header``, and a bound token's type is ``scheme``.
    """

    name: str
    key: str
    new_key: Callable[[], Secret]
    load: Callable[[Secret], Any]
    header: str
    nonce_header: str
    scheme: str

    @property
    def placeholder(self) -> str:
        """The shell variable a proof's curl line expects: ``$DPOP_PROOF``."""
        return "$" + self.header.upper().replace("-", "_") + "_PROOF"
