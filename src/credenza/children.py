"""What the processes credenza starts are given: each child's environment, and the browser.

Three kinds of children: the command `credenza exec` runs (the caller's environment, minus
every secret variable, plus the token variables it was promised), the browser a sign-in opens
(the same, with no token variables), and the auto-started agent (an allow-list only: it outlives
the command by an idle hour). Standard library only: the agent and the token fast path import it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `from typing import ...`: this module is on the token fast path
if TYPE_CHECKING:
    from collections.abc import Mapping

PASSPHRASE = "CREDENZA_KEYRING_PASSPHRASE"
ACCESS_TOKEN = "CREDENZA_ACCESS_TOKEN"
TOKEN_TYPE = "CREDENZA_TOKEN_TYPE"
TOKEN_EXPIRES_AT = "CREDENZA_TOKEN_EXPIRES_AT"
CLIENT_ID = "CREDENZA_CLIENT_ID"
CLIENT_SECRET = "CREDENZA_CLIENT_SECRET"

# The variables that hold a secret: the file keyring's passphrase (it opens every entry) and
# what `exec` hands its command (`exec --client-credentials` adds the client secret).
SECRET_VARIABLES = frozenset({PASSPHRASE, ACCESS_TOKEN, CLIENT_SECRET})
# Everything `exec` sets: an outer exec's are never mixed with this one's (a nested exec of
# another application would pass on the outer client secret otherwise).
EXEC_VARIABLES = frozenset({ACCESS_TOKEN, TOKEN_TYPE, TOKEN_EXPIRES_AT, CLIENT_ID, CLIENT_SECRET})
# The agent's whole environment: where its socket goes, a locale, a temp dir, and what this
# interpreter needs to import credenza again; and, to keep chosen tokens fresh, where this
# person's files are (the keep file, their settings, the file keyring) and the session bus the
# Secret Service answers on. None of these is a secret. Nothing else, whatever the caller had.
AGENT_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TMPDIR",
        "XDG_RUNTIME_DIR",
        "XDG_STATE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "DBUS_SESSION_BUS_ADDRESS",
        "CREDENZA_AGENT_SOCKET",
        "PYTHONPATH",
        "PYTHONHOME",
    }
)


def environment(promised: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus every secret variable and what an outer `exec` set,
    then what this child was ``promised``."""
    dropped = SECRET_VARIABLES | EXEC_VARIABLES
    result = {k: v for k, v in os.environ.items() if k not in dropped}
    result.update(promised or {})
    return result


def agent_environment() -> dict[str, str]:
    """The allow-list only: the agent lives on for an hour after the command that started it,
    so no secret the caller had (a `--from-env` variable, an exec's client secret) goes along."""
    return {k: v for k, v in os.environ.items() if k in AGENT_VARIABLES or k.startswith("LC_")}


# Run as `python -I -c`: isolated, so neither the current directory nor PYTHON* variables can
# put another `webbrowser` in its place.
_OPEN = "import sys, webbrowser; sys.exit(0 if webbrowser.open(sys.argv[1]) else 1)"


def open_browser(url: str) -> None:
    """Open ``url`` the way the standard library's webbrowser would ($BROWSER, xdg-open, open,
    ...), from a child process given ``environment()``.

    webbrowser starts the browser with this process's whole environment and offers no way to
    pass another; changing os.environ around the call would race with every other thread. So
    the choice runs in a short-lived interpreter of its own, reaped by a thread (a browser
    command may run until the browser is closed; the sign-in does not wait for it).
    """
    import subprocess
    import threading

    try:
        opener = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, "-I", "-c", _OPEN, url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=environment(),
            close_fds=True,
        )
    except OSError:
        return  # the URL is on the screen: the person opens it
    threading.Thread(target=opener.wait, daemon=True).start()
