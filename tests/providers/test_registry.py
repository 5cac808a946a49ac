"""The registry of provider adapters: each adapter module declares its kind, what it can do and its
CLI option, and the CLI builds `provider add|edit` from those declarations."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import get_args

import pytest

from credenza.config.model import ProviderKind
from credenza.providers import registry
from credenza.providers.base import AdapterOption, AdapterSpec, ProviderAdapter


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry.adapters.cache_clear()
    yield
    registry.adapters.cache_clear()


def test_every_registered_module_declares_its_kind_and_the_config_knows_each(
    fresh_registry: None,
) -> None:
    specs = registry.adapters()
    assert list(specs) == list(registry.REGISTERED)
    assert set(specs) == set(get_args(ProviderKind))
    # No record, no kind: the default adapter (a portal the user acts in).
    assert registry.adapter_spec(None).kind == "manual"
    assert specs["sandbox"].admin_token is not None
    assert specs["manual"].admin_token is None
    assert [s.kind for s in specs.values() if s.own_catalogue is not None] == ["sandbox"]


def _never(inputs: object) -> ProviderAdapter:
    raise AssertionError("not built here")


def test_an_adapter_declares_its_own_cli_option(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credenza.cli import build_parser
    from credenza.cli.provider import change_from

    module = types.ModuleType("credenza.providers.added")
    module.ADAPTER = AdapterSpec(  # type: ignore[attr-defined]
        kind="added",  # type: ignore[arg-type]
        summary="an adapter added for this test",
        build=_never,
        can_decide=False,
        issues_secrets=True,
        rotation_record=False,
        option=AdapterOption(
            flag="--added-portal",
            metavar="URL",
            help="an added portal at URL",
            edit_help="move it to an added portal at URL",
            fields=lambda url: {"kind": "added", "admin_url": url.rstrip("/")},
            environment="staging",
        ),
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "REGISTERED", (*registry.REGISTERED, "added"))
    registry.adapters.cache_clear()

    parser = build_parser("provider")
    args = parser.parse_args(
        [
            "provider",
            "add",
            "acme",
            "--added-portal",
            "https://portal.test/",
            "--token-url",
            "https://id.test/token",
        ]
    )
    change = change_from(args, workspace=None)  # type: ignore[arg-type]  # no issuer to ask
    assert (change.kind, change.admin_url) == ("added", "https://portal.test")
    # Its endpoints go to the environment the adapter named, not production.
    assert list(change.environments) == ["staging"]
    edit = parser.parse_args(["provider", "edit", "acme", "--added-portal", "https://p.test"])
    assert change_from(edit, workspace=None).admin_url == "https://p.test"  # type: ignore[arg-type]
