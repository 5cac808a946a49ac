"""The config file: errors with line/column and key paths, atomic locked saves, conflicts."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from credenza.config.model import Application, Config, Environment
from credenza.config.store import ConfigStore, dump_config, parse_config
from credenza.errors import (
    ConfigConflictError,
    ConfigLockError,
    ConfigSchemaError,
    ConfigSyntaxError,
    ConfigWriteError,
)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)


def test_syntax_error_reports_line_and_column(config_path: Path) -> None:
    write(config_path, 'version = 1\n\n[[applications]]\nid = "a"\nname = \n')
    with pytest.raises(ConfigSyntaxError) as caught:
        ConfigStore(config_path).load()
    assert (caught.value.line, caught.value.column) == (5, 8)
    assert f"{config_path}:5:8" in str(caught.value)


def test_schema_error_names_the_key_path_with_the_environment_name(config_path: Path) -> None:
    write(
        config_path,
        """
[[applications]]
id = "a"
name = "A"
[[applications]]
id = "b"
name = "B"
[[applications]]
id = "c"
name = "C"
[applications.environments.sandbox]
client_id = "x"
[applications.environments.production]
client_id = "y"
token_url = "not a url"
""",
    )
    with pytest.raises(ConfigSchemaError) as caught:
        ConfigStore(config_path).load()
    assert caught.value.key_path == "applications[2].environments.production.token_url"
    assert "not a URL" in str(caught.value)


def test_wrong_type_is_reported_at_its_key(config_path: Path) -> None:
    write(config_path, '[[applications]]\nid = "a"\nname = 3\n')
    with pytest.raises(ConfigSchemaError) as caught:
        ConfigStore(config_path).load()
    assert caught.value.key_path == "applications[0].name"


def test_duplicate_application_ids_are_an_error(config_path: Path) -> None:
    write(
        config_path,
        '[[applications]]\nid = "a"\nname = "A"\n[[applications]]\nid = "a"\nname = "B"\n',
    )
    with pytest.raises(ConfigSchemaError, match="duplicate id 'a'"):
        ConfigStore(config_path).load()


def test_invalid_utf8_is_a_syntax_error_with_position(config_path: Path) -> None:
    write(config_path, b'version = 1\nname = "\xff"\n')
    with pytest.raises(ConfigSyntaxError) as caught:
        ConfigStore(config_path).load()
    assert caught.value.line == 2


def test_a_config_from_a_newer_credenza_is_refused(config_path: Path) -> None:
    write(config_path, "version = 99\n")
    with pytest.raises(ConfigSchemaError, match="newer credenza"):
        ConfigStore(config_path).load()


def test_missing_file_is_an_empty_config(config_path: Path) -> None:
    assert ConfigStore(config_path).load() == Config()


def test_unknown_keys_survive_a_save(config_path: Path) -> None:
    write(
        config_path,
        """
version = 1
squad = "payments"
[[applications]]
id = "a"
name = "A"
colour = "teal"
[applications.environments.production]
client_id = "abc"
note = "rotate in March"
""",
    )
    store = ConfigStore(config_path)
    config = store.load()
    config.applications[0].name = "Renamed"
    store.save(config)
    text = config_path.read_text()
    assert 'squad = "payments"' in text
    assert 'colour = "teal"' in text
    assert 'note = "rotate in March"' in text
    assert 'name = "Renamed"' in text


def test_text_repeated_across_applications_is_held_once(config_path: Path) -> None:
    # 10,000 applications of one provider held its token URL 20,000 times: 3 MiB of the
    # dashboard's memory. Equal values are one object once loaded.
    url = "https://id.example.com/oauth/token"
    write(
        config_path,
        "version = 1\n"
        + "".join(
            f'[[applications]]\nid = "a{n}"\nname = "A{n}"\nprovider = "chorus"\n'
            f'owners = ["ana@example.com"]\n'
            f'[applications.environments.production]\nclient_id = "c{n}"\ntoken_url = "{url}"\n'
            for n in range(2)
        ),
    )
    first, second = ConfigStore(config_path).load().applications
    assert first.provider is second.provider
    assert first.owners[0] is second.owners[0]
    one, two = first.environments["production"], second.environments["production"]
    assert one.token_url == url
    assert one.token_url is two.token_url


def test_round_trip_keeps_every_known_field(config_path: Path) -> None:
    config = Config(
        applications=[
            Application(
                id="a",
                name="A",
                owners=["x@example.com"],
                environments={"sandbox": Environment(client_id="id", scopes=("a", "b"))},
            )
        ]
    )
    parsed, _ = parse_config(dump_config(config))
    assert parsed == config


def test_save_is_0600_and_directory_0700_even_under_umask_000(config_path: Path) -> None:
    old = os.umask(0)
    try:
        store = ConfigStore(config_path)
        store.load()
        store.save(Config())
    finally:
        os.umask(old)
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600


def test_group_writable_config_is_warned_about(config_path: Path) -> None:
    write(config_path, "version = 1\n")
    config_path.chmod(0o666)
    store = ConfigStore(config_path)
    store.load()
    assert any("writable by other users" in w for w in store.warnings)


def test_save_refuses_when_the_file_changed_on_disk(config_path: Path) -> None:
    write(config_path, 'version = 1\n[[applications]]\nid = "a"\nname = "A"\n')
    first, second = ConfigStore(config_path), ConfigStore(config_path)
    mine, theirs = first.load(), second.load()
    theirs.applications.append(Application(id="b", name="B"))
    second.save(theirs)
    mine.applications[0].name = "Mine"
    before = config_path.read_bytes()
    with pytest.raises(ConfigConflictError, match="changed on disk"):
        first.save(mine)
    assert config_path.read_bytes() == before


def test_edit_applies_changes_to_the_latest_file(config_path: Path) -> None:
    first, second = ConfigStore(config_path), ConfigStore(config_path)
    first.load()
    with second.edit() as config:
        config.applications.append(Application(id="b", name="B"))
    with first.edit() as config:
        config.applications.append(Application(id="c", name="C"))
    assert [a.id for a in ConfigStore(config_path).load().applications] == ["b", "c"]


def test_stale_temp_files_are_removed_by_the_next_save(config_path: Path) -> None:
    write(config_path, "version = 1\n")
    stale = config_path.parent / f".{config_path.name}.abc123.tmp"
    stale.write_text("half a file")
    store = ConfigStore(config_path)
    store.save(store.load())
    assert not stale.exists()


def test_full_disk_leaves_the_original_intact_and_no_temp_file(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_path, 'version = 1\n[[applications]]\nid = "a"\nname = "A"\n')
    before = config_path.read_bytes()
    store = ConfigStore(config_path)
    config = store.load()
    config.applications.append(Application(id="b", name="B"))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ConfigWriteError, match="No space left on device"):
        store.save(config)
    assert config_path.read_bytes() == before
    assert list(config_path.parent.glob("*.tmp")) == []


def test_a_replace_failure_leaves_the_original_intact(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_path, "version = 1\n")
    before = config_path.read_bytes()
    store = ConfigStore(config_path)
    config = store.load()
    config.applications.append(Application(id="b", name="B"))
    monkeypatch.setattr(
        os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error"))
    )
    with pytest.raises(ConfigWriteError):
        store.save(config)
    assert config_path.read_bytes() == before
    assert list(config_path.parent.glob("*.tmp")) == []


def test_a_writer_waiting_on_the_lock_gives_up_with_a_clear_error(config_path: Path) -> None:
    import filelock

    store = ConfigStore(config_path, lock_timeout=0.2)
    store.load()
    store._ensure_directory()
    holder = filelock.FileLock(store.lock_path, thread_local=False)
    holder.acquire()
    try:
        # Another thread's lock object: same process, but FileLock is per-object here.
        import threading

        outcome: list[BaseException] = []

        def attempt() -> None:
            try:
                store.save(Config())
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join(5)
    finally:
        holder.release()
    assert outcome
    assert isinstance(outcome[0], ConfigLockError)
    assert "held" in str(outcome[0])


OFFSET_CONFIG = """version = 1
workspace = "0f3c2a9e-5d1b-4c8e-9a7f-2b6d4e8c1a35"

[[applications]]
id = "a"
name = "A"
note = "a key credenza does not know"

[applications.environments.prod]
client_id = "x"
token_url = "https://example.com/t"
secret_expires_at = 2026-01-01T10:00:00+13:00
"""


def test_a_reload_of_the_same_bytes_is_a_fresh_config_that_keeps_offsets_and_unknown_keys(
    config_path: Path,
) -> None:
    write(config_path, OFFSET_CONFIG)
    store = ConfigStore(config_path)
    first = store.load()
    first.applications[0].name = "changed in memory, never saved"
    second = store.load()  # the same bytes: converted from what the first load parsed
    assert second.applications[0].name == "A"
    with store.edit() as config:
        config.applications[0].description = "saved"
    third = store.load()  # the bytes the save wrote
    assert third == parse_config(config_path.read_bytes())[0]
    assert third.applications[0].description == "saved"
    text = config_path.read_text()
    assert "secret_expires_at = 2026-01-01 10:00:00+13:00" in text  # not turned into UTC
    assert 'note = "a key credenza does not know"' in text


def test_a_file_changed_by_someone_else_is_parsed_again_not_taken_from_memory(
    config_path: Path,
) -> None:
    write(config_path, OFFSET_CONFIG)
    store = ConfigStore(config_path)
    store.load()
    write(config_path, OFFSET_CONFIG.replace('name = "A"', 'name = "B"'))
    assert store.load().applications[0].name == "B"
