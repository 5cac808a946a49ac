"""Secret values that never print themselves, and the checks a secret passes before it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credenza.errors import SecretRejectedError


class Secret:
    """A secret value whose str and repr are masked, so tracebacks and logs cannot show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: call only where it is sent or shown on purpose."""
        return self._value

    def masked(self) -> str:
        """For display: bullets and the last four characters (none for short values)."""
        tail = self._value[-4:] if len(self._value) >= 12 else ""
        return "••••••••" + tail

    def __repr__(self) -> str:
        return "Secret('••••••••')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class CheckedSecret:
    """A secret as it will be stored, with the warnings found while checking it."""

    secret: Secret
    warnings: tuple[str, ...]


def check_secret(value: str, *, expected_length: int | None = None) -> CheckedSecret:
    """Trim surrounding whitespace (with a warning), refuse an empty secret, flag odd lengths."""
    warnings: list[str] = []
    trimmed = value.strip()
    if not trimmed:
        raise SecretRejectedError(
            "the secret is empty; nothing was stored",
            hint="paste the client secret from the provider's portal",
        )
    if trimmed != value:
        warnings.append("removed whitespace around the secret (a copy-paste left it there)")
    if expected_length is not None and len(trimmed) != expected_length:
        warnings.append(
            f"the secret has {len(trimmed)} characters but this provider issues secrets of "
            f"{expected_length}; check that it was copied whole"
        )
    return CheckedSecret(Secret(trimmed), tuple(warnings))
