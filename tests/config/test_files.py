"""The cross-process lock of config.files: a flock that filelock's locks and ours respect alike."""

from __future__ import annotations

import stat
from pathlib import Path

import filelock
import pytest

from credenza.config.files import hold_lock, locked
from credenza.errors import ConfigLockError, ConfigWriteError


def test_our_lock_keeps_filelock_out_until_released(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.lock"
    with locked(path, timeout=1):
        other = filelock.FileLock(path, timeout=0.1, thread_local=False)
        with pytest.raises(filelock.Timeout):
            other.acquire()
    other.acquire()
    other.release()


def test_a_held_lock_times_out_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    release = hold_lock(path, timeout=1)
    try:
        with pytest.raises(ConfigLockError, match="held"), locked(path, timeout=0.1):
            pass
    finally:
        release()
    with locked(path, timeout=0.1):  # free again
        pass


def test_the_lock_file_is_private_and_a_symlink_is_not_followed(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with locked(path, timeout=1):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    link = tmp_path / "link.lock"
    link.symlink_to(target)
    with pytest.raises(ConfigWriteError), locked(link, timeout=0.1):
        pass
    assert target.read_text() == "keep me"
