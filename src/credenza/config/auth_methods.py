"""The names of the client-authentication methods, declared once for every layer that needs them.

Why here: the config validates an environment's ``auth_method`` (a ``Literal``, so msgspec
refuses an unknown one on load and mypy checks every use), and the config sits below oauth, so it
cannot import the methods themselves (``oauth/auth/``). This module holds only the names; what
each method needs (``secret_kind``), sends and does is declared by its own module, registered in
``oauth/auth/__init__.py``, which refuses to import when its registry and this list differ. The
sandbox's authorization server offers the same list. A new method: its module, its registration,
and its name here (a type checker reads a Literal as written, so the name is spelled here too).
"""

from __future__ import annotations

from typing import Literal, get_args

AuthMethod = Literal[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
    "none",  # a public client (RFC 8252 native apps): PKCE alone binds the code to it
]
AUTH_METHODS: tuple[AuthMethod, ...] = get_args(AuthMethod)
