"""Every path credenza uses (config, state, cache, runtime, data), as strings: stdlib only.

The `credenza token` fast path needs the default config path, so this module imports neither
pathlib nor platformdirs (~15 ms) on Linux: there the XDG variables count exactly as platformdirs
counts them (only an absolute path; a relative $HOME is ignored for the user's home). Elsewhere
(macOS, Windows, BSD, Android) platformdirs is imported, lazily, and decides.
"""

from __future__ import annotations

import os
import sys

APP = "credenza"
# What platformdirs' Unix class reads on Linux, and where it goes when the variable is unset.
_XDG = {
    "config": ("XDG_CONFIG_HOME", "~/.config"),
    "state": ("XDG_STATE_HOME", "~/.local/state"),
    "cache": ("XDG_CACHE_HOME", "~/.cache"),
    "data": ("XDG_DATA_HOME", "~/.local/share"),
}


def _xdg_here() -> bool:
    """True where platformdirs would apply the XDG rules (Linux, not Android)."""
    platform: str = sys.platform  # a variable, so that type checkers keep both branches
    android = hasattr(sys, "getandroidapilevel") or (
        os.environ.get("ANDROID_DATA") == "/data" and os.environ.get("ANDROID_ROOT") == "/system"
    )
    return platform.startswith("linux") and not android


def _expand_home(path: str) -> str:
    """``~/...`` under the user's home, as platformdirs expands it (a relative $HOME is unset)."""
    home = os.environ.get("HOME")
    if home is not None and not home.startswith("/"):
        expanded = path
        try:
            import pwd

            expanded = pwd.getpwuid(os.getuid()).pw_dir.rstrip("/") + path[1:] or "/"
        except (ImportError, KeyError):
            pass
    else:
        expanded = os.path.expanduser(path)
    if not expanded.startswith("/"):
        raise RuntimeError(
            f"could not determine the home directory for {path!r}, set an absolute HOME or XDG "
            "variable"
        )
    return expanded


def user_dir(kind: str) -> str:
    """credenza's directory of ``kind`` (config, state, cache or data) for this user."""
    if not _xdg_here():
        import platformdirs

        return str(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))
    variable, default = _XDG[kind]
    base = os.environ.get(variable, "")
    return os.path.join(base if base.startswith("/") else _expand_home(default), APP)


def runtime_dir() -> str | None:
    """$XDG_RUNTIME_DIR (a tmpfs emptied at logout), or None when it is not set."""
    return os.environ.get("XDG_RUNTIME_DIR") or None


def config_file() -> str:
    """The config when no --config is given: $CREDENZA_CONFIG, else credenza.toml in the user
    config dir. The fast path and the full CLI both ask here, so they never disagree."""
    if override := os.environ.get("CREDENZA_CONFIG"):
        return os.path.expanduser(override)
    return os.path.join(user_dir("config"), "credenza.toml")


def user_settings_file() -> str:
    """This person's settings (settings.toml), beside the default config."""
    return os.path.join(user_dir("config"), "settings.toml")


def preferences_file() -> str:
    """The dashboard's preferences (the theme), beside the default config."""
    return os.path.join(user_dir("config"), "preferences.toml")


def local_state_file() -> str:
    """This person's state for every config (local.toml) in the user state dir."""
    return os.path.join(user_dir("state"), "local.toml")


def keep_file() -> str:
    """The tokens the agent keeps fresh (keep.toml), beside the local state."""
    return os.path.join(user_dir("state"), "keep.toml")


def credential_lock_dir() -> str:
    """The credential locks: the runtime dir when it exists, else the state dir; never beside
    the config, which a team may keep in git."""
    runtime = runtime_dir()
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, APP, "credential-locks")
    return os.path.join(user_dir("state"), "credential-locks")


def config_lock_dir() -> str:
    """The config files' save locks, in the runtime dir or else the cache dir."""
    return os.path.join(runtime_dir() or user_dir("cache"), APP, "locks")


def config_cache_dir() -> str:
    """The parsed-config cache (one msgpack file per config) in the user cache dir."""
    return os.path.join(user_dir("cache"), "config")


def agent_socket() -> str:
    """$CREDENZA_AGENT_SOCKET, else a 0700 directory in $XDG_RUNTIME_DIR (or /tmp) per user."""
    if override := os.environ.get("CREDENZA_AGENT_SOCKET"):
        return override
    base = runtime_dir() or f"/tmp/credenza-{os.getuid()}"  # noqa: S108
    return os.path.join(base, APP, "agent.sock")


def keyring_file() -> str:
    """The encrypted file keyring (keyring.enc) in the user data dir."""
    return os.path.join(user_dir("data"), "keyring.enc")
