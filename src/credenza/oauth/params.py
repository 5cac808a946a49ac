"""Extra form parameters (`--param KEY=VALUE`): which names credenza refuses, and why."""

from __future__ import annotations

import re
from collections.abc import Mapping

from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.oauth import auth, grants
from credenza.oauth.untrusted import clean

# What a grant or client authentication sends itself (each declares its fields): an extra
# parameter of the same name would change the grant (`grant_type=password`) or put a credential
# in the config file. Also RFC 7523's assertion, a grant credenza does not run.
RESERVED = (
    frozenset({"grant_type", "scope", "assertion"}) | grants.sent_fields() | auth.sent_fields()
)
# Names that say the value is a credential; the config file holds none (SECURITY.md 5).
_SECRET_NAME = re.compile(
    r"secret|passw|passphrase|pwd|token|assertion|api[-_]?key|private[-_]?key|credential"
    r"|signature|^key$|_key$",
    re.IGNORECASE,
)
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def param_problem(name: str) -> str | None:
    """Why ``name`` cannot be an extra parameter, or None when it can."""
    if not _NAME.fullmatch(name):
        return "use letters, digits, '_', '.', ':' or '-' (at most 64)"
    lowered = name.lower()
    if lowered in RESERVED or lowered.startswith("client_assertion"):
        return "the grant itself sends it; set it with its own option, not --param"
    if _SECRET_NAME.search(name):
        return (
            "it looks like a credential, and the config file holds no credential; keep "
            "secrets in the keyring"
        )
    return None


def check_extra_params(params: Mapping[str, str]) -> None:
    """Raise ValidationError for the first extra parameter credenza refuses to send."""
    for name in params:
        problem = param_problem(name)
        if problem is not None:
            raise ValidationError(
                f"the extra parameter '{clean(name, limit=64)}' is refused: {problem}",
                hint="remove it with --param NAME= ({0})",
                next_steps=(step("edit_environment", "APP", "ENV"),),
            )


def split_param_edits(edits: list[str]) -> tuple[dict[str, str], list[str]]:
    """``--param KEY=VALUE`` adds or replaces one parameter; ``--param KEY=`` removes it.
    Returns (to set, to remove); reserved and secret-looking names are refused."""
    setting: dict[str, str] = {}
    removing: list[str] = []
    for edit in edits:
        name, eq, value = edit.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ValidationError(
                f"--param needs KEY=VALUE (or KEY= to remove), not '{clean(name, limit=64)}'"
            )
        if value == "":
            removing.append(name)
            continue
        problem = param_problem(name)
        if problem is not None:
            secret = _SECRET_NAME.search(name) is not None
            raise ValidationError(
                f"--param {clean(name, limit=64)} is refused: {problem}",
                hint="store a secret with `{0}`" if secret else None,
                next_steps=(step("set_secret", "APP", "ENV"),) if secret else (),
            )
        setting[name] = value
    return setting, removing


def apply_param_edits(current: Mapping[str, str], edits: list[str]) -> dict[str, str]:
    """``current`` with the ``--param`` edits applied."""
    setting, removing = split_param_edits(edits)
    result = {k: v for k, v in current.items() if k not in removing}
    result.update(setting)
    return result
