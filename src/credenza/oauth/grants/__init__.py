"""Grants, one module each: what each sends to the token endpoint and how it gets there."""

from __future__ import annotations

from typing import Literal

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"

# The grant an environment uses to get a token, in the words of the application's grant types.
GrantName = Literal["client_credentials", "authorization_code", "device_code"]
# Grants that need a person to sign in; their tokens are then kept fresh with refresh_token.
USER_GRANTS = frozenset({"authorization_code", DEVICE_CODE, "device_code"})
