"""Typed records of the config file: providers, applications, environments, contracts."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from credenza.config.auth_methods import AuthMethod
from credenza.config.checks import check_scopes, check_store_path, check_urls, is_email, is_url

BasicEncoding = Literal["rfc6749", "raw"]
AppType = Literal["private", "public"]
ContractStatus = Literal["pending", "approved", "rejected", "revoked"]
ContractTarget = Literal["api", "api_group"]
ProviderKind = Literal["manual", "sandbox"]
Rotation = Literal["cutover", "overlap"]

CONFIG_VERSION = 1
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{15,63}$")


class Endpoints(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=False):
    """Where a provider's OAuth endpoints are, for one environment."""

    issuer: str | None = None
    token_url: str | None = None
    revocation_url: str | None = None
    introspection_url: str | None = None
    logout_url: str | None = None
    # Where a person signs in (RFC 6749 §4.1) and where a device asks for a user code (RFC 8628).
    authorization_url: str | None = None
    device_authorization_url: str | None = None

    def __post_init__(self) -> None:
        check_urls(
            self,
            "issuer",
            "token_url",
            "revocation_url",
            "introspection_url",
            "logout_url",
            "authorization_url",
            "device_authorization_url",
        )


class ProviderEnvironment(Endpoints, kw_only=True, omit_defaults=True):
    """A provider's defaults for one environment (sandbox, production, ...)."""

    auth_method: AuthMethod | None = None


class CatalogueTier(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An SLA tier of an API instance; a higher rank is less restrictive (more throughput)."""

    name: str
    rank: int = 0
    auto_approve: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("@name: a tier needs a name")


class CatalogueApi(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An API instance or API group instance of a provider credenza cannot call (a portal):
    recorded so that the least restrictive contract per API is computed as for the sandbox."""

    id: str
    name: str
    instance: str
    environment: str = "production"
    target: ContractTarget = "api"
    apis: list[str] = []  # an API group's member APIs
    terms: str | None = None  # the terms and conditions: their URL, or their text
    tiers: list[CatalogueTier] = []
    # Anypoint: the client provider (identity provider) the instance takes clients from; an
    # application requesting access must use the same one.
    client_provider: str | None = None

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError("@id: use lowercase letters, digits, '.', '_' or '-'")
        if self.target == "api_group" and not self.apis:
            raise ValueError("@apis: an API group lists its member APIs")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("@tiers: a tier is listed twice")

    def tier(self, name: str | None) -> CatalogueTier | None:
        return next((t for t in self.tiers if t.name == name), None)


# What credenza can check itself, per item of a provider's production checklist:
#   owners       two application owners named (Chorus: "each application must have at least two")
#   callback     the one callback URL set where a grant redirects, and not a placeholder
#   registered   a production contract (registration) for each API the application uses
#   terms        the terms accepted for every production contract
#   contracts    every production contract approved
#   credentials  production credentials received (a client_id recorded for production)
#   scopes       no scope asked of the provider that it has not granted yet
ChecklistCheck = Literal[
    "owners", "callback", "registered", "terms", "contracts", "credentials", "scopes"
]


class ChecklistSpec(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A provider's production checklist: checks credenza makes, and steps a person confirms
    (`credenza app check APP ITEM`), in the provider's own words."""

    checks: list[ChecklistCheck] = []
    manual: list[str] = []

    def __post_init__(self) -> None:
        if len(set(self.checks)) != len(self.checks) or len(set(self.manual)) != len(self.manual):
            raise ValueError("@checklist: an item is listed twice")
        if any(not item.strip() or not item.isprintable() for item in self.manual):
            raise ValueError("@checklist: a manual item must be printable text")


class Provider(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An API provider: its portal, how it rotates secrets, and per-environment defaults."""

    name: str
    kind: ProviderKind = "manual"
    profile: str | None = None
    portal_url: str | None = None
    admin_url: str | None = None
    auth_method: AuthMethod | None = None
    basic_auth_encoding: BasicEncoding | None = None
    rotation: Rotation | None = None
    secret_length: int | None = None
    # Days after which a secret is due for rotation; overrides [settings] rotation_days.
    rotation_days: int | None = None
    # A TOML file of numbered error codes ([[errors]] endpoint/status/code/explanation/kind).
    errors_file: str | None = None
    environments: dict[str, ProviderEnvironment] = {}
    catalogue: list[CatalogueApi] = []
    # The provider's own production checklist, when it is not the shipped profile's.
    checklist: ChecklistSpec | None = None

    def __post_init__(self) -> None:
        check_urls(self, "portal_url", "admin_url")
        if self.secret_length is not None and not 1 <= self.secret_length <= 4096:
            raise ValueError("@secret_length: must be between 1 and 4096")
        if len({api.id for api in self.catalogue}) != len(self.catalogue):
            raise ValueError("@catalogue: an API id is listed twice")
        if self.rotation_days is not None and self.rotation_days < 1:
            raise ValueError("@rotation_days: must be 1 or more (days)")


class Environment(Endpoints, kw_only=True, omit_defaults=True, gc=False):
    """One application's credentials in one environment. The secret itself is in the keyring."""

    client_id: str
    scopes: tuple[str, ...] = ()  # a tuple: see Application.apis
    # Asked of the provider, not granted yet (NewVoiceMedia adds a scope to existing credentials
    # through the account manager): never sent, since an ungranted scope fails every token call
    # with invalid_scope; `env edit --grant-scope S` moves one into ``scopes``.
    requested_scopes: tuple[str, ...] = ()
    auth_method: AuthMethod | None = None
    audience: str | None = None
    resource: str | None = None
    extra_params: dict[str, str] = {}
    # private_key_jwt: the key's id at the provider (JWS kid), and the assertion's aud when the
    # provider wants its issuer instead of the token endpoint URL.
    key_id: str | None = None
    assertion_audience: str | None = None
    # tls_client_auth / self_signed_tls_client_auth: the client certificate file (PEM). Its
    # private key is in the keyring, where a client secret would be.
    certificate: str | None = None
    # The API's base URL (`credenza api APP PATH` calls PATH on it): a credentialed endpoint,
    # bound to the origins the secret was confirmed for like the token URL.
    api_url: str | None = None
    # RFC 9449: tokens bound to a key of this environment, each request with a fresh proof.
    dpop: bool = False
    secret_set_at: datetime | None = None
    secret_rotated_at: datetime | None = None
    secret_expires_at: datetime | None = None
    # RFC 7592: where the client credenza registered (`app register`) is read and deleted; the
    # registration access token that does it is in the keyring.
    registration_client_uri: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_urls(self, "registration_client_uri")
        if not self.client_id.strip() or self.client_id != self.client_id.strip():
            raise ValueError("@client_id: must not be empty or start or end with a space")
        check_scopes(self.scopes)
        check_scopes(self.requested_scopes)
        check_urls(self, "api_url")
        if self.api_url is not None:
            parts = urlsplit(self.api_url)
            if parts.query or parts.fragment or parts.username or parts.password:
                raise ValueError("@api_url: a base URL without user, '?query' or '#fragment'")
        for key in self.extra_params:
            if not key.strip():
                raise ValueError("@extra_params: a parameter name must not be empty")


class Contract(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """Access to an API instance or API group instance, in one environment, at an SLA tier."""

    id: str
    api: str
    instance: str
    environment: str
    target: ContractTarget = "api"
    apis: list[str] = []
    sla_tier: str | None = None
    # Higher is less restrictive (more throughput); decides the effective contract per API.
    sla_rank: int | None = None
    scopes: list[str] = []
    status: ContractStatus = "pending"
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    terms_accepted_at: datetime | None = None
    # The terms accepted: their URL, or their text (from the catalogue, or given at the request).
    terms: str | None = None

    @property
    def covered_apis(self) -> list[str]:
        """The APIs this contract grants access to: its own, and those of its group."""
        return [self.api, *self.apis]


PortalRole = Literal["developer", "administrator", "owner"]


class PortalMember(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A person in the provider's portal for this application: not an API credential (Telenor's
    ConnectID developers, invited by the company's Min Bedrift administrators)."""

    who: str
    role: PortalRole = "developer"
    identity: str | None = None  # the login they use there: "ConnectID", "Min Bedrift", ...

    def __post_init__(self) -> None:
        if not self.who.strip() or self.who != self.who.strip():
            raise ValueError("@who: must not be empty or start or end with a space")


class Application(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """An application registered with a provider, with its environments and contracts."""

    id: str
    name: str
    provider: str | None = None
    organisation: str | None = None
    owners: list[str] = []
    type: AppType = "private"
    description: str | None = None
    url: str | None = None
    callback_url: str | None = None
    grant_types: list[str] = msgspec.field(default_factory=lambda: ["client_credentials"])
    # Tuples: nothing changes them in place (edits rebuild the record), and an empty tuple is
    # one shared object where an empty list was a new one per record (10,000 records: 2 MiB).
    apis: tuple[str, ...] = ()
    # The environment `token`, `exec`, `verify` and `login` use when --env is omitted.
    default_environment: str | None = None
    environments: dict[str, Environment] = {}
    contracts: tuple[Contract, ...] = ()  # a tuple: see apis
    # The provider's manual checklist steps a person confirmed, and when (item -> time).
    checked: dict[str, datetime] = {}
    # The people in the provider's portal, by role (who invites whom differs by provider).
    members: tuple[PortalMember, ...] = ()
    # Anypoint: the client provider the application's credentials come from.
    client_provider: str | None = None

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError("@id: use lowercase letters, digits, '.', '_' or '-'")
        if not self.name.strip() or self.name != self.name.strip():
            raise ValueError("@name: must not be empty or start or end with a space")
        check_urls(self, "url", "callback_url")
        for owner in self.owners:
            if not is_email(owner):
                raise ValueError(f"@owners: {owner!r} is not an email address")


class Settings(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Tunables: timeouts, retries, the token cache skew, the plaintext-keyring opt-in."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 30.0
    retry_attempts: int = 3
    token_skew_seconds: int = 60
    keyring_timeout: float = 5.0
    # "system" (older versions wrote "auto"): the desktop keyring (Secret Service, Keychain,
    # Credential Manager); "file": the built-in encrypted file keyring, for machines without one.
    # This and keyring_timeout, agent, ca_bundle and allow_plaintext_keyring are this machine's
    # facts: setters write them to the per-user settings file (config/local.py), never here.
    keyring: Literal["auto", "system", "file"] = "auto"
    # "auto": `credenza token` and the dashboard start the agent when none runs.
    agent: Literal["auto", "off"] = "auto"
    allow_plaintext_keyring: bool = False
    ca_bundle: str | None = None
    # `credenza status`: a secret expiring within this many days needs attention.
    expiry_warning_days: int = 30
    # `credenza status`: a secret older than this many days is due for rotation (none: no policy).
    rotation_days: int | None = None

    def __post_init__(self) -> None:
        # Checked where the file loads, so `nan` or a missing CA file is a config error with its
        # key path, not an internal error at the first network call.
        for name in ("connect_timeout", "read_timeout", "deadline", "keyring_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0 or value > 86400:
                raise ValueError(f"@{name}: must be a number of seconds above 0 (at most 86400)")
        if self.retry_attempts < 0:
            raise ValueError("@retry_attempts: must be 0 or more (every call has its deadline)")
        if not 0 <= self.token_skew_seconds <= 86400:
            raise ValueError("@token_skew_seconds: must be between 0 and 86400")
        if not 0 <= self.expiry_warning_days <= 3650:
            raise ValueError("@expiry_warning_days: must be between 0 and 3650 (days)")
        if self.rotation_days is not None and self.rotation_days < 1:
            raise ValueError("@rotation_days: must be 1 or more (days)")
        # A missing ca_bundle is refused where a client is made (Context), not here: a path from
        # a teammate's machine must not stop the offline commands, nor this person's override.


class Team(msgspec.Struct, kw_only=True, omit_defaults=False):
    """Where a team keeps the secrets of this config's applications: a KV v2 path in HashiCorp
    Vault or OpenBao. Nothing personal: each person brings their own store token. Every field is
    written, defaults too: the file says where the team's secrets are without knowing credenza."""

    backend: Literal["vault"] = "vault"
    address: str
    path: str
    mount: str = "secret"

    def __post_init__(self) -> None:
        parts = urlsplit(self.address)
        if not is_url(self.address) or parts.query or parts.fragment:
            raise ValueError("@address: not a URL (expected https://vault.example.com:8200)")
        check_store_path(self.path, "path")
        check_store_path(self.mount, "mount")


class Config(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The whole config file."""

    version: int = CONFIG_VERSION
    # This config's identity: every keyring entry, cached token and local state of it is kept
    # under it. Random, written into the file at first use (so a moved config keeps its
    # secrets); a copy of the file is the same workspace. None: not given one yet.
    workspace: str | None = None
    settings: Settings = msgspec.field(default_factory=Settings)
    providers: dict[str, Provider] = {}
    applications: list[Application] = []
    # Set: every client secret and key lives in the team's store, not in a keyring.
    team: Team | None = None

    def __post_init__(self) -> None:
        if self.workspace is not None and not _WORKSPACE_ID.match(self.workspace):
            raise ValueError(
                "@workspace: not a workspace id (16 to 64 letters, digits, - or _, starting with "
                "a letter or digit); remove the line and credenza writes a new one"
            )


def new_workspace_id() -> str:
    """A new workspace id: 22 URL-safe characters (about 128 random bits), never starting with
    ``-`` (a keyring tool would read the entry name as an option)."""
    import secrets

    first = secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return first + secrets.token_urlsafe(16)[:21]


# Fields whose values repeat across applications: a team's owners, a provider's endpoints.
_REPEATED_ENDPOINTS = ("issuer", "token_url", "revocation_url", "introspection_url", "logout_url")


def share_repeated_text(config: Config) -> Config:
    """``config`` with one str object per distinct provider, organisation, owner and endpoint URL.

    A decoder makes a new str for every value it reads: 10,000 applications of one provider
    held the same token URL 20,000 times (3 MiB of the dashboard's memory). Strings are
    immutable, so sharing them changes nothing else.
    """
    seen: dict[str, str] = {}
    one = seen.setdefault
    for application in config.applications:
        if application.provider is not None:
            application.provider = one(application.provider, application.provider)
        if application.organisation is not None:
            application.organisation = one(application.organisation, application.organisation)
        owners = application.owners
        for index, owner in enumerate(owners):
            owners[index] = one(owner, owner)
        for environment in application.environments.values():
            for name in _REPEATED_ENDPOINTS:
                value = getattr(environment, name)
                if value is not None:
                    setattr(environment, name, one(value, value))
    return config
