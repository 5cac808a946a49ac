"""Provider profiles: shipped TOML data merged with the user's own provider records."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from credenza.config.auth_methods import AuthMethod
from credenza.config.files import (
    ERRORS_FILE_CAP,
    read_regular,
    regular_file_stamp,
    resolve_path,
)
from credenza.config.model import BasicEncoding, Provider, Rotation
from credenza.errors import ConfigError, ErrorKind
from credenza.next_steps import NextStep, step


@dataclass(frozen=True)
class ErrorExplanation:
    endpoint: str
    status: int
    code: str
    explanation: str
    kind: ErrorKind | None = None


ResetWho = Literal["anyone", "owners"]


@dataclass(frozen=True)
class ResetText:
    """A provider's own words for a secret reset (``[NAME.reset]`` in profiles.toml)."""

    where: str | None = None
    effects: tuple[str, ...] = ()  # empty: the generic words for the rotation style
    who: ResetWho = "anyone"
    not_owner: str | None = None  # {owners} is replaced by the application's owners
    unregistered: str | None = None
    one_time: bool = False  # shown once: kept as pending before it is verified


@dataclass(frozen=True)
class Profile:
    """What credenza knows about how one provider behaves."""

    key: str
    name: str
    auth_method: AuthMethod = "client_secret_basic"
    basic_auth_encoding: BasicEncoding = "rfc6749"
    rotation: Rotation = "cutover"
    secret_length: int | None = None
    # Days after which a secret is due for rotation (the provider's policy); None: the settings'.
    rotation_days: int | None = None
    portal_url: str | None = None
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: tuple[ErrorExplanation, ...] = ()
    reset: ResetText = field(default_factory=ResetText)
    # The provider never changes a client_id (Pipedrive): a new client_id means a new app.
    client_id_fixed: bool = False
    # The body of a 200 that confirms a logout by GET + Bearer (the Telenor seed's "OK!");
    # anything else, an HTML page above all, is not a confirmation.
    logout_answer: str = "OK!"
    # What using one of the provider's APIs means for the application's records (Chorus's Line
    # Test API answers only for the organisation name registered), by API name.
    api_notes: dict[str, str] = field(default_factory=dict)

    def explain(self, endpoint: str, status: int, code: str | None) -> ErrorExplanation | None:
        """The provider's own explanation of a numbered error code at one endpoint and status."""
        if code is None:
            return None
        for entry in self.errors:
            if (entry.endpoint, entry.status, entry.code) == (endpoint, status, code):
                return entry
        return None


GENERIC = Profile(key="generic", name="OAuth2 provider")


@cache
def shipped_profiles() -> dict[str, dict[str, Any]]:
    return tomllib.loads(_shipped_text())


@cache
def _shipped_text() -> str:
    # Beside this module, read as a file: importlib.resources' machinery is ~5 ms to import.
    # From a zip (no file there), through it.
    beside = Path(__file__).with_name("profiles.toml")
    if beside.is_file():
        return beside.read_text("utf-8")
    from importlib import resources

    return resources.files("credenza.providers").joinpath("profiles.toml").read_text("utf-8")


# A table header of profiles.toml: [NAME], [NAME.part], [[NAME.errors]].
_HEADER = re.compile(r"\[\[?([a-z0-9_]+)(?:\.[a-z0-9_]+)*\]\]?\s*")


@cache
def shipped_profile(key: str) -> dict[str, Any]:
    """The shipped profile ``key`` ({} when there is none), parsing only its own tables: the
    whole file is ~5 ms of every `credenza token`. Any line opening with "[" that is not a plain
    table header (a quoted key, a nested array) and the whole file is parsed instead."""
    if not key:
        return {}
    kept: list[str] = []
    mine = False
    for line in _shipped_text().splitlines(keepends=True):
        if line.startswith("["):
            header = _HEADER.fullmatch(line)
            if header is None:
                return shipped_profiles().get(key, {})
            mine = header.group(1) == key
        if mine:
            kept.append(line)
    profile: dict[str, Any] = tomllib.loads("".join(kept)).get(key, {})
    return profile


def resolve_profile(
    key: str | None, provider: Provider | None = None, base: str | None = None
) -> Profile:
    """The shipped profile named by ``key`` (or the provider's), with the user's overrides on top;
    ``base`` is the config's directory (where a relative ``errors_file`` is)."""
    profile_key = (provider.profile if provider and provider.profile else key) or ""
    data = dict(shipped_profile(profile_key))
    errors = tuple(
        ErrorExplanation(
            endpoint=str(entry["endpoint"]),
            status=int(entry["status"]),
            code=str(entry["code"]),
            explanation=str(entry["explanation"]),
            kind=entry.get("kind"),
        )
        for entry in data.get("errors", [])
    )
    environments = {
        name: {k: str(v) for k, v in values.items()}
        for name, values in data.get("environments", {}).items()
    }
    profile = Profile(
        key=profile_key or "generic",
        name=str(data.get("name", GENERIC.name)),
        auth_method=_one_of(data.get("auth_method"), get_args(AuthMethod), GENERIC.auth_method),
        basic_auth_encoding=_one_of(
            data.get("basic_auth_encoding"), get_args(BasicEncoding), GENERIC.basic_auth_encoding
        ),
        rotation=_one_of(data.get("rotation"), get_args(Rotation), GENERIC.rotation),
        secret_length=data.get("secret_length"),
        rotation_days=data.get("rotation_days"),
        portal_url=data.get("portal_url"),
        environments=environments,
        errors=errors,
        logout_answer=str(data.get("logout_answer", GENERIC.logout_answer)),
        reset=_reset_text(data.get("reset", {})),
        client_id_fixed=bool(data.get("client_id_fixed", False)),
        api_notes={str(k): str(v) for k, v in data.get("api_notes", {}).items()},
    )
    if provider is None:
        return profile
    if provider.errors_file:
        # The provider's own table first: it is the more specific one.
        errors = load_error_table(provider.errors_file, base, key=_errors_key(key)) + errors
    for env_name, env in provider.environments.items():
        merged = dict(profile.environments.get(env_name, {}))
        for endpoint in (
            "issuer",
            "token_url",
            "revocation_url",
            "introspection_url",
            "logout_url",
        ):
            if (value := getattr(env, endpoint)) is not None:
                merged[endpoint] = value
        if env.auth_method:
            merged["auth_method"] = env.auth_method
        environments[env_name] = merged
    return Profile(
        key=profile.key,
        name=provider.name or profile.name,
        auth_method=provider.auth_method or profile.auth_method,
        basic_auth_encoding=provider.basic_auth_encoding or profile.basic_auth_encoding,
        rotation=provider.rotation or profile.rotation,
        secret_length=provider.secret_length or profile.secret_length,
        rotation_days=provider.rotation_days or profile.rotation_days,
        portal_url=provider.portal_url or profile.portal_url,
        environments=environments,
        errors=errors,
        logout_answer=profile.logout_answer,
        reset=profile.reset,
        client_id_fixed=profile.client_id_fixed,
        api_notes=profile.api_notes,
    )


def load_error_table(
    path: str, base: str | None = None, *, key: str = "errors_file"
) -> tuple[ErrorExplanation, ...]:
    """A provider's numbered error codes from a TOML file of ``[[errors]]`` (the profiles'
    shape), a relative ``path`` taken from ``base`` (the config's directory); raises ConfigError
    naming ``key`` when the file is not a regular file under the cap or an entry is wrong."""
    what = f"{key} ({path})"
    hint = "fix the path: {0} ('' removes it)"
    steps = (step("edit_provider", None, None, "NAME", errors="FILE"),)
    stamp = regular_file_stamp(path, what=what, hint=hint, base=base, next_steps=steps)
    return _error_table(resolve_path(path, base), stamp, what, hint, steps)


@cache
def _error_table(
    path: str, stamp: tuple[int, ...], what: str, hint: str, steps: tuple[NextStep, ...]
) -> tuple[ErrorExplanation, ...]:
    raw = read_regular(path, cap=ERRORS_FILE_CAP, what=what, hint=hint, next_steps=steps)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the error-code table {path} is not valid TOML: {exc}") from None
    entries = data.get("errors", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected [[errors]] entries")
    kinds = get_args(ErrorKind)
    table: list[ErrorExplanation] = []
    for number, entry in enumerate(entries, 1):
        try:
            kind = entry.get("kind")
            if kind is not None and kind not in kinds:
                raise ValueError(f"kind must be one of {', '.join(kinds)}")
            table.append(
                ErrorExplanation(
                    endpoint=str(entry["endpoint"]),
                    status=int(entry["status"]),
                    code=str(entry["code"]),
                    explanation=str(entry["explanation"]),
                    kind=kind,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"{path}: error entry {number} is incomplete ({exc})",
                hint="each [[errors]] has endpoint, status, code, explanation (and maybe kind)",
            ) from None
    return tuple(table)


def _errors_key(key: str | None) -> str:
    return f"providers.{key}.errors_file" if key else "errors_file"


def _reset_text(data: dict[str, Any]) -> ResetText:
    return ResetText(
        where=data.get("where"),
        effects=tuple(str(line) for line in data.get("effects", [])),
        who=_one_of(data.get("who"), get_args(ResetWho), "anyone"),
        not_owner=data.get("not_owner"),
        unregistered=data.get("unregistered"),
        one_time=bool(data.get("one_time", False)),
    )


L = TypeVar("L", bound=str)


def _one_of(value: object, allowed: tuple[L, ...], default: L) -> L:
    # The shipped profiles are checked by a test; an unknown value falls back, never crashes.
    return next((choice for choice in allowed if choice == value), default)
