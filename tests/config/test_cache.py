"""The parsed-config cache: used only for the file's exact bytes and this code, never over the file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import msgspec
import pytest

from credenza.config.cache import ParsedConfigCache, _Envelope
from credenza.config.model import Config
from credenza.config.store import ConfigStore
from credenza.errors import ConfigSyntaxError

PAD = "# " + "x" * 70 + "\n"


def config_text(name: str = "Billing", *, extra: str = "") -> str:
    # Padded with comments so even a tiny cache threshold is passed honestly.
    return f'version = 1\n{extra}[[applications]]\nid = "billing"\nname = "{name}"\n' + PAD * 4


@pytest.fixture
def cache(tmp_path: Path) -> ParsedConfigCache:
    return ParsedConfigCache(tmp_path / "cache", min_bytes=64)


def load(path: Path, cache: ParsedConfigCache) -> Config:
    return ConfigStore(path, cache=cache).load()


def plant(
    cache: ParsedConfigCache, path: Path, config: Config, *, schema: str | None = None
) -> None:
    """An entry for the file's current bytes that says something else, to see whether it is read."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    envelope = _Envelope(
        schema or cache.schema, digest, msgspec.Raw(msgspec.msgpack.encode(config))
    )
    cache.entry(path).write_bytes(msgspec.msgpack.encode(envelope))


def renamed(config: Config, name: str) -> Config:
    config.applications[0].name = name
    return config


def test_a_second_load_reads_the_entry_the_first_one_wrote(
    config_path: Path, cache: ParsedConfigCache
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    first = load(config_path, cache)
    assert cache.entry(config_path).exists()
    plant(cache, config_path, renamed(first, "From the cache"))
    assert load(config_path, cache).applications[0].name == "From the cache"


def test_a_changed_file_is_parsed_and_its_entry_rebuilt(
    config_path: Path, cache: ParsedConfigCache
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    plant(cache, config_path, renamed(load(config_path, cache), "Stale"))
    config_path.write_text(config_text("Edited by hand"))
    assert load(config_path, cache).applications[0].name == "Edited by hand"
    entry = msgspec.msgpack.decode(cache.entry(config_path).read_bytes(), type=_Envelope)
    assert entry.digest == hashlib.sha256(config_path.read_bytes()).hexdigest()


def test_an_entry_from_other_code_is_not_used(config_path: Path, cache: ParsedConfigCache) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    plant(cache, config_path, renamed(load(config_path, cache), "Old schema"), schema="0" * 64)
    assert load(config_path, cache).applications[0].name == "Billing"
    entry = msgspec.msgpack.decode(cache.entry(config_path).read_bytes(), type=_Envelope)
    assert entry.schema == cache.schema


def test_an_entry_others_can_write_is_not_used(config_path: Path, cache: ParsedConfigCache) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    plant(cache, config_path, renamed(load(config_path, cache), "Planted"))
    cache.entry(config_path).chmod(0o666)
    assert load(config_path, cache).applications[0].name == "Billing"


def test_a_damaged_entry_means_the_file_is_parsed(
    config_path: Path, cache: ParsedConfigCache
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    load(config_path, cache)
    cache.entry(config_path).write_bytes(b"\x93\xa1not msgpack at all")
    assert load(config_path, cache).applications[0].name == "Billing"


def test_a_broken_file_is_an_error_whatever_the_cache_holds(
    config_path: Path, cache: ParsedConfigCache
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    load(config_path, cache)
    config_path.write_text(config_text() + "[[applications\n")
    with pytest.raises(ConfigSyntaxError):
        load(config_path, cache)


def test_small_configs_write_no_entry(config_path: Path, tmp_path: Path) -> None:
    cache = ParsedConfigCache(tmp_path / "cache")  # the real threshold
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    load(config_path, cache)
    assert not (tmp_path / "cache").exists()


def test_unknown_keys_survive_a_save_after_a_cached_load(
    config_path: Path, cache: ParsedConfigCache
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text(extra='squad = "payments"\n'))
    load(config_path, cache)
    store = ConfigStore(config_path, cache=cache)
    config = store.load()  # from the cache
    store.save(renamed(config, "Renamed"))
    text = config_path.read_text()
    assert 'squad = "payments"' in text
    assert 'name = "Renamed"' in text


def test_entries_are_0600_in_a_0700_directory_even_under_umask_000(
    config_path: Path, cache: ParsedConfigCache
) -> None:
    config_path.parent.mkdir()
    config_path.write_text(config_text())
    old = os.umask(0)
    try:
        load(config_path, cache)
    finally:
        os.umask(old)
    entry = cache.entry(config_path)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert list(entry.parent.iterdir()) == [entry]  # no temp file left behind


def test_the_default_location_is_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    assert ParsedConfigCache().directory == tmp_path / "xdg-cache" / "credenza" / "config"
