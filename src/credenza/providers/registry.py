"""Which adapter serves a provider: one entry per provider kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from credenza.config.model import Provider, ProviderKind
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.providers.base import ProviderAdapter
from credenza.providers.profiles import Profile
from credenza.secrets import Secret

if TYPE_CHECKING:
    from credenza.oauth.client import OAuthClient


@dataclass(frozen=True)
class AdapterInputs:
    """What an adapter may be built from: the provider record, its profile, and lookups."""

    key: str
    provider: Provider | None
    profile: Profile
    admin_token: Callable[[], Secret | None]
    clock: Callable[[], datetime]
    # The workspace's one hardened HTTP client: every admin call goes through it.
    client: Callable[[], OAuthClient]


def _manual(inputs: AdapterInputs) -> ProviderAdapter:
    from credenza.providers.manual import ManualAdapter

    catalogue = inputs.provider.catalogue if inputs.provider is not None else []
    return ManualAdapter(rotation=inputs.profile.rotation, clock=inputs.clock, catalogue=catalogue)


def _sandbox(inputs: AdapterInputs) -> ProviderAdapter:
    from credenza.providers.sandbox import SandboxAdapter

    provider = inputs.provider
    if provider is None or not provider.admin_url:
        return _manual(inputs)
    token = inputs.admin_token()
    if token is None:
        raise ValidationError(
            f"no admin token is stored for the sandbox provider {inputs.key!r}",
            hint="store the admin token `{0}` printed: {1}",
            next_steps=(
                step("start_sandbox"),
                step("admin_token", None, None, inputs.key),
            ),
        )
    return SandboxAdapter(
        provider.admin_url, token, rotation=inputs.profile.rotation, client=inputs.client
    )


ADAPTERS: dict[ProviderKind, Callable[[AdapterInputs], ProviderAdapter]] = {
    "manual": _manual,
    "sandbox": _sandbox,
}


def build_adapter(inputs: AdapterInputs) -> ProviderAdapter:
    kind: ProviderKind = inputs.provider.kind if inputs.provider is not None else "manual"
    return ADAPTERS[kind](inputs)
