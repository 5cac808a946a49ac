"""`credenza demo`: a throwaway workspace on a local sandbox, modelled on the five seed providers.

Nothing here touches the user's config or keyring: the config lives in a temporary directory and
secrets in an in-memory keyring that vanishes with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from credenza.config.changes import ApplicationChange, EnvironmentChange
from credenza.config.model import ContractStatus, Provider
from credenza.config.store import ConfigStore
from credenza.sandbox.server import SandboxServer
from credenza.sandbox.state import SandboxState
from credenza.secrets import Secret, SecretStore
from credenza.secrets.backends.memory import MemoryKeyring
from credenza.services.context import utc_now
from credenza.workspace import Workspace

TERMS = "Use the API only for the registered organisation; no resale of line data."
TIERS_LINE_TEST = {
    "Bronze": {"auto_approve": True, "rank": 1, "scopes": ["linetest:read"]},
    "Silver": {"auto_approve": True, "rank": 2, "scopes": ["linetest:read"]},
    "Gold": {"auto_approve": False, "rank": 3, "scopes": ["linetest:read", "linetest:bulk"]},
}
# Fibre orders are priced per tier: quoting is open to all, ordering from Business up, bulk
# ordering only for wholesale partners after review.
TIERS_FIBRE_ORDER = {
    "Starter": {"auto_approve": True, "rank": 1, "scopes": ["fibre:quote"]},
    "Business": {"auto_approve": True, "rank": 2, "scopes": ["fibre:quote", "fibre:order"]},
    "Wholesale": {
        "auto_approve": False,
        "rank": 3,
        "scopes": ["fibre:quote", "fibre:order", "fibre:bulk"],
    },
}
TIERS_GROUP = {
    "Silver": {"auto_approve": True, "rank": 2, "scopes": ["linetest:read", "fibre:order"]},
    "Gold": {"auto_approve": False, "rank": 3, "scopes": ["linetest:read", "fibre:order"]},
}

# (provider key, shipped profile, display name)
PROVIDERS = [
    ("chorus", "chorus", "Chorus (sandbox)"),
    ("pipedrive", "pipedrive", "Pipedrive (sandbox)"),
    ("newvoicemedia", "newvoicemedia", "NewVoiceMedia (sandbox)"),
    ("anypoint", "anypoint", "Anypoint (sandbox)"),
    ("telenor", "telenor", "Telenor (sandbox)"),
]


@dataclass
class Demo:
    workspace: Workspace
    server: SandboxServer
    config_path: Path


def catalogue(state: SandboxState) -> None:
    """The API instances and API group instances the demo applications request access to."""
    for environment in ("sandbox", "production"):
        state.add_api(
            {
                "id": f"line-test-{environment}",
                "name": "Line Test API",
                "instance": f"v2 ({environment})",
                "environment": environment,
                "terms": TERMS,
                "tiers": TIERS_LINE_TEST,
            }
        )
        state.add_api(
            {
                "id": f"fibre-order-{environment}",
                "name": "Fibre Order API",
                "instance": f"v1 ({environment})",
                "environment": environment,
                "terms": TERMS,
                "tiers": TIERS_FIBRE_ORDER,
            }
        )
        state.add_api(
            {
                "id": f"broadband-group-{environment}",
                "name": "Broadband Group",
                "instance": f"2026.1 ({environment})",
                "target": "api_group",
                "apis": ["Line Test API", "Fibre Order API"],
                "environment": environment,
                "terms": TERMS,
                "tiers": TIERS_GROUP,
            }
        )


# RFC 8252 §7.3: a loopback redirect; a fixed port, since Pipedrive registers exactly one URL.
PIPEDRIVE_CALLBACK = "http://127.0.0.1:53682/pipedrive/callback"


def build_demo(
    directory: Path,
    *,
    clock: Callable[[], datetime] | None = None,
    seed: int | None = None,
    port: int = 0,
    pipedrive_callback: str = PIPEDRIVE_CALLBACK,
    live_tokens: bool = True,
    keyring: MemoryKeyring | None = None,
) -> Demo:
    """Start a sandbox on a loopback port and fill a workspace in ``directory`` against it.

    ``clock``, ``seed`` and ``port`` make a demo repeat exactly (snapshot tests, screenshots);
    ``pipedrive_callback`` is where its sign-in listens (tests give a free port: the fixed one
    may be taken by a demo someone has open). ``live_tokens``: the demo opens with a few tokens
    counting down (tests of the token keys start without them). ``keyring``: the in-memory
    keyring to fill (tests copy a built demo's entries instead of building one per test).
    """
    state = SandboxState(token_ttl=120, seed=seed)
    if clock is not None:
        state.clock = lambda: clock().timestamp()
    catalogue(state)
    server = SandboxServer(state, port=port).start()
    try:
        config_path = directory / "credenza.toml"
        secrets = SecretStore(keyring if keyring is not None else MemoryKeyring())
        workspace = Workspace(
            store=ConfigStore(config_path), secrets=secrets, clock=clock or utc_now
        )
        _populate(workspace, server, pipedrive_callback, live_tokens=live_tokens)
    except BaseException:
        server.stop()
        raise
    return Demo(workspace=workspace, server=server, config_path=config_path)


def _populate(
    workspace: Workspace, server: SandboxServer, pipedrive_callback: str, *, live_tokens: bool
) -> None:
    state = server.state
    issuer = server.issuer
    for key, profile, name in PROVIDERS:
        workspace.providers.add(
            key,
            Provider(
                name=name, kind="sandbox", profile=profile, admin_url=issuer, portal_url=issuer
            ),
        )
        workspace.providers.set_admin_token(key, Secret(server.admin_token))

    def register(app_id: str, environment: str, **metadata: Any) -> str:
        client = state.add_client(
            {
                "client_id": f"{app_id}-{environment}",
                "application": app_id,
                "environment": environment,
                **metadata,
            }
        )
        return client.client_secret

    def environment(app_id: str, env: str, secret: str, **fields: Any) -> None:
        workspace.environments.add(
            app_id,
            env,
            EnvironmentChange(
                client_id=f"{app_id}-{env}",
                issuer=issuer,
                token_url=f"{issuer}/oauth/token",
                revocation_url=f"{issuer}/oauth/token/revocation",
                introspection_url=f"{issuer}/oauth/token/introspection",
                **fields,
            ),
        )
        workspace.credentials.set(app_id, env, secret)

    # Chorus: credentials per environment, two owners, one registration per API used.
    chorus = workspace.applications.add(
        "Chorus Line Test",
        ApplicationChange(
            provider="chorus",
            organisation="Example Broadband Ltd",
            owners=["aroha@example.net", "wiremu@example.net"],
            description="Checks broadband line faults for customers of the registered organisation.",
            url="https://support.example.net/lines",
            apis=["Line Test API"],
        ),
    ).id
    for env, ttl in (("sandbox", 90), ("production", 300)):
        environment(chorus, env, register(chorus, env, scope="", token_ttl=ttl))
    # Chorus secrets are issued for two years.
    workspace.environments.edit(
        chorus,
        "production",
        EnvironmentChange(secret_expires_at=workspace.clock() + timedelta(days=730)),
    )

    # Pipedrive: a private app with exactly one callback URL; its tokens act for a person, so it
    # uses the authorization code grant through that (loopback) callback, and refresh tokens.
    pipedrive = workspace.applications.add(
        "Pipedrive CRM Sync",
        ApplicationChange(
            provider="pipedrive",
            organisation="Example Sales Co",
            owners=["sam@example.org"],
            type="private",
            callback_url=pipedrive_callback,
            grant_types=["authorization_code", "refresh_token"],
            description="Syncs deals into the data warehouse nightly.",
        ),
    ).id
    environment(
        pipedrive,
        "sandbox",
        register(
            pipedrive,
            "sandbox",
            # openid: the sandbox answers as an OpenID Connect provider, so the sign-in says who.
            scope="openid deals:read contacts:read",
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[pipedrive_callback],
            token_ttl=60,
        ),
        scopes=["openid", "deals:read"],
        authorization_url=f"{issuer}/oauth/authorize",
        device_authorization_url=f"{issuer}/oauth/device_authorization",
    )

    # NewVoiceMedia: a 40-character secret delivered once; credentials carry scopes.
    nvm = workspace.applications.add(
        "NewVoiceMedia Insights",
        ApplicationChange(
            provider="newvoicemedia",
            organisation="Example Contact Centre",
            owners=["ops@example.com", "lead@example.com"],
            description="Pulls interaction statistics for the contact-centre dashboard.",
        ),
    ).id
    environment(
        nvm,
        "production",
        register(
            nvm,
            "production",
            scope="interaction-content:read stats:read",
            token_endpoint_auth_method="client_secret_post",
            token_ttl=180,
        ),
        scopes=["interaction-content:read", "stats:read"],
        auth_method="client_secret_post",
    )
    # Its secret expires soon, so `credenza status` and the dashboard's header have one to show.
    now = workspace.clock()
    workspace.environments.edit(
        nvm, "production", EnvironmentChange(secret_expires_at=now + timedelta(days=12))
    )

    # Anypoint: contracts through an API group and directly, SLA tiers in every status.
    anypoint = workspace.applications.add(
        "Anypoint Order Hub",
        ApplicationChange(
            provider="anypoint",
            organisation="Example Networks",
            owners=["ana@example.com", "ben@example.com"],
            callback_url="https://orders.example-networks.co/oauth/callback",
            grant_types=["client_credentials", "refresh_token"],
            description="Orders fibre and checks lines through the Broadband API group.",
            url="https://orders.example-networks.co",
            apis=["Line Test API", "Fibre Order API"],
        ),
    ).id
    for env, ttl in (("sandbox", 120), ("production", 240)):
        environment(anypoint, env, register(anypoint, env, scope="", token_ttl=ttl))

    # Telenor: Basic auth for the token call, logout by GET with a Bearer header.
    telenor = workspace.applications.add(
        "Telenor SMS Gateway",
        ApplicationChange(
            provider="telenor",
            organisation="Example Logistics AS",
            owners=["kari@example.no", "ola@example.no"],
            description="Sends delivery notifications by SMS.",
        ),
    ).id
    workspace.environments.add(
        telenor,
        "production",
        EnvironmentChange(
            client_id=f"{telenor}-production",
            token_url=f"{issuer}/oauth/token",
            logout_url=f"{issuer}/oauth/logout",
            introspection_url=f"{issuer}/oauth/token/introspection",
            auth_method="client_secret_basic",
            scopes=["sms:send"],
            # The sandbox's protected API: `credenza api telenor-sms-gateway /api/me`.
            api_url=issuer,
        ),
    )
    workspace.credentials.set(
        telenor, "production", register(telenor, "production", scope="sms:send", token_ttl=150)
    )

    # Telenor's portal people are not API credentials: an administrator invites developers.
    workspace.applications.set_member(telenor, "kari@example.no", "administrator", "Min Bedrift")
    workspace.applications.set_member(telenor, "ola@example.no", "developer", "ConnectID")

    live = [(telenor, "production"), (chorus, "sandbox"), (anypoint, "production")]
    asyncio.run(_contracts(workspace, chorus, anypoint, live=live if live_tokens else []))


# (application, environment, API or group, instance, SLA tier, then decided as). Together they show
# every status; the Anypoint app reaches Line Test API through the group (Silver) and directly
# (Bronze), so the group's Silver is the effective contract; Gold and Wholesale are reviewed, so
# they stay pending.
CONTRACTS: list[tuple[str, str, str, str, str, ContractStatus | None]] = [
    ("chorus", "sandbox", "Line Test API", "line-test-sandbox", "Bronze", None),
    ("chorus", "production", "Line Test API", "line-test-production", "Gold", None),
    ("anypoint", "production", "Broadband Group", "broadband-group-production", "Silver", None),
    ("anypoint", "production", "Line Test API", "line-test-production", "Bronze", None),
    ("anypoint", "production", "Fibre Order API", "fibre-order-production", "Wholesale", None),
    ("anypoint", "sandbox", "Fibre Order API", "fibre-order-sandbox", "Wholesale", "rejected"),
    ("anypoint", "sandbox", "Line Test API", "line-test-sandbox", "Bronze", "revoked"),
]


async def _contracts(
    workspace: Workspace, chorus: str, anypoint: str, *, live: list[tuple[str, str]]
) -> None:
    """The contracts, then a few tokens, so the Tokens section opens counting down."""
    applications = {"chorus": chorus, "anypoint": anypoint}
    try:
        for app_id, env in live:
            await workspace.tokens.fetch(app_id, env)
        for app, env, api, instance, tier, then in CONTRACTS:
            contract = await workspace.contracts.request_access(
                applications[app],
                env,
                api=api,
                instance=instance,
                sla_tier=tier,
                terms_accepted=True,
                target="api_group" if api == "Broadband Group" else "api",
            )
            if then is not None:
                await workspace.contracts.decide(applications[app], contract.id, then)
    finally:
        await workspace.aclose()


@contextlib.contextmanager
def demo_workspace() -> Iterator[Demo]:
    """A demo in a temporary directory, removed with the sandbox when the block ends."""
    with tempfile.TemporaryDirectory(prefix="credenza-demo-") as directory:
        demo = build_demo(Path(directory))
        try:
            yield demo
        finally:
            demo.server.stop()


def _interrupt_on_sigterm() -> None:
    # A terminated demo must still stop its sandbox and remove its temporary workspace.
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not in the main thread: leave it be
        signal.signal(signal.SIGTERM, handler)


def run_demo(*, no_ui: bool = False, dashboard: Callable[[Demo], int] | None = None) -> int:
    """Keep a demo workspace alive: in ``dashboard`` (the cli wires the UI in), or until Ctrl+C."""
    _interrupt_on_sigterm()
    with demo_workspace() as demo:
        if not no_ui and dashboard is not None:
            return dashboard(demo)
        print(f"workspace: {demo.config_path}", flush=True)
        print(f"issuer: {demo.server.issuer}", flush=True)
        # For `credenza provider add NAME --sandbox ISSUER` then `provider admin-token NAME`:
        # a throwaway sandbox's token, printed as `credenza sandbox serve` prints its own.
        print(f"admin token: {demo.server.admin_token}", flush=True)
        print(f"started: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC", flush=True)
        print("the sandbox runs until interrupted (Ctrl+C)", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0
