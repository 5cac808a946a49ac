"""Typed changes to the config's records (UNSET leaves a field alone, None clears it) and the
one validation that applies them: the rules that load the file."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from credenza.config.auth_methods import AuthMethod
from credenza.config.checks import refuse_control_characters
from credenza.config.model import AppType, BasicEncoding, ProviderKind, Rotation

# -- typed changes ---------------------------------------------------------------------------------
# An edit is a record of the fields to change: UNSET leaves a field alone, None clears it (back to
# its default). It is applied by rebuilding the record through msgspec, so the rules that load the
# file are the rules that check an edit: one validation for the file, the CLI and the forms.


class ApplicationChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    provider: str | msgspec.UnsetType | None = msgspec.UNSET
    organisation: str | msgspec.UnsetType | None = msgspec.UNSET
    owners: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    type: AppType | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    url: str | msgspec.UnsetType | None = msgspec.UNSET
    callback_url: str | msgspec.UnsetType | None = msgspec.UNSET
    grant_types: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    client_provider: str | msgspec.UnsetType | None = msgspec.UNSET
    apis: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    default_environment: str | msgspec.UnsetType | None = msgspec.UNSET


class ProviderEnvironmentChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    issuer: str | msgspec.UnsetType | None = msgspec.UNSET
    token_url: str | msgspec.UnsetType | None = msgspec.UNSET
    revocation_url: str | msgspec.UnsetType | None = msgspec.UNSET
    introspection_url: str | msgspec.UnsetType | None = msgspec.UNSET
    logout_url: str | msgspec.UnsetType | None = msgspec.UNSET
    auth_method: AuthMethod | msgspec.UnsetType | None = msgspec.UNSET


class ProviderChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    kind: ProviderKind | msgspec.UnsetType | None = msgspec.UNSET
    profile: str | msgspec.UnsetType | None = msgspec.UNSET
    portal_url: str | msgspec.UnsetType | None = msgspec.UNSET
    admin_url: str | msgspec.UnsetType | None = msgspec.UNSET
    auth_method: AuthMethod | msgspec.UnsetType | None = msgspec.UNSET
    basic_auth_encoding: BasicEncoding | msgspec.UnsetType | None = msgspec.UNSET
    rotation: Rotation | msgspec.UnsetType | None = msgspec.UNSET
    secret_length: int | msgspec.UnsetType | None = msgspec.UNSET
    rotation_days: int | msgspec.UnsetType | None = msgspec.UNSET
    errors_file: str | msgspec.UnsetType | None = msgspec.UNSET
    # Per environment: the endpoint fields to change (UNSET unchanged, None cleared).
    environments: dict[str, ProviderEnvironmentChange] = {}
    remove_environments: list[str] = []

    def is_empty(self) -> bool:
        return not msgspec.to_builtins(self)


class EnvironmentChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    client_id: str | msgspec.UnsetType = msgspec.UNSET
    issuer: str | msgspec.UnsetType | None = msgspec.UNSET
    token_url: str | msgspec.UnsetType | None = msgspec.UNSET
    revocation_url: str | msgspec.UnsetType | None = msgspec.UNSET
    introspection_url: str | msgspec.UnsetType | None = msgspec.UNSET
    logout_url: str | msgspec.UnsetType | None = msgspec.UNSET
    authorization_url: str | msgspec.UnsetType | None = msgspec.UNSET
    device_authorization_url: str | msgspec.UnsetType | None = msgspec.UNSET
    key_id: str | msgspec.UnsetType | None = msgspec.UNSET
    assertion_audience: str | msgspec.UnsetType | None = msgspec.UNSET
    certificate: str | msgspec.UnsetType | None = msgspec.UNSET
    api_url: str | msgspec.UnsetType | None = msgspec.UNSET
    dpop: bool | msgspec.UnsetType = msgspec.UNSET
    scopes: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    add_scopes: list[str] = []
    remove_scopes: list[str] = []
    request_scopes: list[str] = []  # asked of the provider: waiting, never sent
    grant_scopes: list[str] = []  # granted by the provider: from requested to scopes
    auth_method: AuthMethod | msgspec.UnsetType | None = msgspec.UNSET
    audience: str | msgspec.UnsetType | None = msgspec.UNSET
    resource: str | msgspec.UnsetType | None = msgspec.UNSET
    extra_params: dict[str, str] | msgspec.UnsetType | None = msgspec.UNSET
    set_params: dict[str, str] = {}
    remove_params: list[str] = []
    secret_set_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    secret_rotated_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    secret_expires_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    registration_client_uri: str | msgspec.UnsetType | None = msgspec.UNSET

    def is_empty(self) -> bool:
        return not msgspec.to_builtins(self)


# The fields whose change makes a cached token belong to another credential.
CREDENTIAL_FIELDS = (
    "client_id",
    "issuer",
    "token_url",
    "auth_method",
    "scopes",
    "audience",
    "resource",
    "extra_params",
    "key_id",
    "assertion_audience",
    "certificate",
    "dpop",
)

R = TypeVar("R", bound=msgspec.Struct)


def apply_change(record: R, change: msgspec.Struct, *, extra: dict[str, Any] | None = None) -> R:
    """``record`` with ``change`` applied, validated as the loader validates; raises ValueError.

    What the change writes must also be free of control characters: a hand-edited file that has
    one still loads (and is shown escaped), but no add or edit writes a new one."""
    data: dict[str, Any] = msgspec.to_builtins(record, builtin_types=(datetime,))
    for key in change.__struct_fields__:
        value = getattr(change, key)
        if value is msgspec.UNSET:
            continue
        refuse_control_characters(key, value)
        if key not in type(record).__struct_fields__:
            continue
        if value is None or value == "":
            data.pop(key, None)  # cleared: back to the default
        else:
            data[key] = value
    for key, value in (extra or {}).items():
        refuse_control_characters(key, value)
    data.update(extra or {})
    try:
        return msgspec.convert(data, type(record), builtin_types=(datetime,))
    except msgspec.ValidationError as exc:
        raise ValueError(field_message(str(exc))) from None


def field_message(message: str) -> str:
    # msgspec says "bad value - at `$.token_url`"; a field check says "@token_url: detail".
    match = re.match(r"^@(\w+): (.*)$", message, re.DOTALL)
    if match:
        return f"{match[1].replace('_', ' ')}: {match[2]}"
    match = re.match(r"^(.*) - at `\$\.?([^`]*)`$", message, re.DOTALL)
    if match:
        return f"{match[2] or 'value'}: {match[1]}"
    return message
