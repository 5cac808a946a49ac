"""Loading sandbox clients from a file: JSON (an object or a list) or TOML ([[clients]])."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from credenza.errors import ValidationError


def load_clients(path: Path) -> list[dict[str, Any]]:
    """RFC 7591 client metadata objects, from JSON or TOML; a clear error when malformed."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text).get("clients", [])
        else:
            data = json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(
            f"{path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}"
        ) from None
    if isinstance(data, dict):
        data = data.get("clients", [data])
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValidationError(f"{path} must hold client objects (a list, or [[clients]] in TOML)")
    for number, item in enumerate(data):
        if not item.get("client_id"):
            raise ValidationError(f"{path}: client {number} has no client_id")
    return data
