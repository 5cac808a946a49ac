"""Which adapter serves a provider: the registry of adapter modules, one per provider kind.

A new adapter is one module in providers/ (the adapter and its ``ADAPTER`` spec: kind, what it
can do, its CLI option) and its name below; services and the CLI read the specs, never a kind.
"""

from __future__ import annotations

import functools
import importlib

from credenza.providers.base import AdapterInputs, AdapterSpec, ProviderAdapter

# Module names in providers/; the first is the default kind (a record without one, no record).
REGISTERED = ("manual", "sandbox")


@functools.cache
def adapters() -> dict[str, AdapterSpec]:
    """Every registered adapter by kind, in registration order."""
    specs = [importlib.import_module(f"credenza.providers.{m}").ADAPTER for m in REGISTERED]
    return {spec.kind: spec for spec in specs}


def adapter_spec(kind: str | None) -> AdapterSpec:
    """The spec of ``kind``; None (no provider record) is the default kind."""
    specs = adapters()
    return specs[kind] if kind is not None else next(iter(specs.values()))


def build_adapter(inputs: AdapterInputs) -> ProviderAdapter:
    return adapter_spec(inputs.provider.kind if inputs.provider is not None else None).build(inputs)
