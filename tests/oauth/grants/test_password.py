"""`credenza login --password` / `--password-stdin` (RFC 6749 §4.3) against the sandbox over real
HTTP: only the tokens are kept, the password is in no file, no output and no keyring entry."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credenza.sandbox import SandboxServer, SandboxState
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner
from tests.hostile import echo_in, hostile, leaks

USER = "ada@example.org"
# Characters that encode differently in each form (URL, JSON, Base64).
PASSWORD = "pAsSw0rd-canary:+%&= é✓-7f3a9c1e5b"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    state = SandboxState(token_ttl=300, user=USER, user_password=PASSWORD)
    with SandboxServer(state) as running:
        yield running


def add_password_app(
    cli: CliRunner, server: SandboxServer, grants: tuple[str, ...] = ("password", "refresh_token")
) -> None:
    """A Telenor-style application whose token endpoint lists the password grant."""
    client = server.state.add_client(
        {"client_id": "tn-user", "scope": "sms:send", "grant_types": list(grants)}
    )
    declared = [word for grant in grants for word in ("--grant-type", grant)]
    assert cli("app", "add", "Telenor App", *declared)[0] == 0
    code, _, err = cli(
        "env",
        "add",
        "telenor-app",
        "production",
        "--client-id",
        "tn-user",
        "--token-url",
        f"{server.issuer}/oauth/token",
    )
    assert code == 0, err
    assert cli("secret", "set", "telenor-app", "production", stdin=client.client_secret)[0] == 0


def password_requests(server: SandboxServer) -> int:
    return sum(1 for r in server.state.requests if r["form"].get("grant_type") == "password")


def files_holding(root: Path, value: str) -> list[str]:
    """Every file under ``root`` holding ``value`` in any of its encodings."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and leaks(path.read_bytes().decode("utf-8", "replace"), value):
            found.append(str(path))
    return found


def test_login_password_stdin_then_token_keeps_only_tokens(
    cli: CliRunner, server: SandboxServer, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    add_password_app(cli, server)
    code, out, err = cli("login", "telenor-app", "--password-stdin", stdin=f"{USER}\n{PASSWORD}\n")
    assert code == 0, err
    assert "Signed in to Telenor App / production as" in err
    assert password_requests(server) == 1
    # The sandbox got exactly what was typed (no trailing newline, no encoding damage).
    sent = next(r["form"] for r in server.state.requests if r["form"].get("grant_type"))
    assert (sent["username"], sent["password"]) == (USER, PASSWORD)

    code, token_out, token_err = cli("token", "telenor-app")
    assert code == 0, token_err
    issued = server.state.lookup(token_out.strip())
    assert issued is not None
    assert issued.subject == USER
    # Then a refresh, as for any sign-in: no second password request.
    code, refreshed, refresh_err = cli("token", "telenor-app", "--no-cache")
    assert code == 0, refresh_err
    assert refreshed.strip() != token_out.strip()
    assert password_requests(server) == 1
    assert any(r["form"].get("grant_type") == "refresh_token" for r in server.state.requests)

    # The refresh token is in the keyring with the user token; the password in no entry.
    assert any(name.endswith("/user_token") for _, name in memory_keyring.entries)
    for (service, name), value in memory_keyring.entries.items():
        assert not leaks(f"{service} {name} {value}", PASSWORD), name
    for text in (out, err, token_out, token_err, refreshed, refresh_err):
        assert not leaks(text, PASSWORD)
    # tmp_path holds the config, the XDG cache, state and config homes of this test.
    assert files_holding(tmp_path, PASSWORD) == []


def test_login_password_warns_that_rfc_9700_deprecates_the_grant(
    cli: CliRunner, server: SandboxServer
) -> None:
    add_password_app(cli, server)
    code, _, err = cli("login", "telenor-app", "--password-stdin", stdin=f"{USER}\n{PASSWORD}")
    assert code == 0, err
    assert "credenza: warning: the password grant is deprecated: RFC 9700" in err


def test_wrong_password_is_a_clear_error_without_the_password(
    cli: CliRunner, server: SandboxServer, memory_keyring: MemoryKeyring
) -> None:
    add_password_app(cli, server)
    wrong = "Wr0ng-canary-password-c4f1"
    code, out, err = cli("login", "telenor-app", "--password-stdin", stdin=f"{USER}\n{wrong}\n")
    assert code == 1
    assert "refused the username or password (invalid_grant: bad username or password)" in err
    assert not leaks(out + err, wrong)
    assert not any(name.endswith("/user_token") for _, name in memory_keyring.entries)
    code, _, err = cli("token", "telenor-app")
    assert code != 0
    assert "nobody is signed in" in err


def test_an_application_without_the_password_grant_is_refused_and_nothing_is_sent(
    cli: CliRunner, server: SandboxServer
) -> None:
    add_password_app(cli, server, grants=("client_credentials",))
    code, _, err = cli("login", "telenor-app", "--password-stdin", stdin=f"{USER}\n{PASSWORD}\n")
    assert code == 2
    assert "does not declare the password grant" in err
    assert "--grant-type password" in err
    assert password_requests(server) == 0


def test_password_stdin_needs_two_lines(cli: CliRunner, server: SandboxServer) -> None:
    add_password_app(cli, server)
    code, _, err = cli("login", "telenor-app", "--password-stdin", stdin=f"{PASSWORD}\n")
    assert code == 2
    assert "reads two lines, the username then the password; got 1" in err
    assert not leaks(err, PASSWORD)
    assert password_requests(server) == 0


def test_password_prompt_off_a_terminal_points_at_password_stdin(
    cli: CliRunner, server: SandboxServer
) -> None:
    add_password_app(cli, server)
    code, _, err = cli("login", "telenor-app", "--password", stdin=f"{USER}\n{PASSWORD}\n")
    assert code == 2
    assert "--password-stdin" in err
    assert password_requests(server) == 0


@pytest.mark.parametrize("password", [PASSWORD, "hunt2"])
def test_a_server_echoing_the_request_never_shows_the_password(
    run_cli: Callable[[Path], CliRunner], tmp_path: Path, password: str
) -> None:
    """A sloppy server copies the whole form into its error; a short password is redacted too."""
    cli = run_cli(tmp_path / "echo.toml")
    with hostile() as (script, server):
        script.on("/token", echo_in("description", status=400))
        assert cli("app", "add", "Echo", "--grant-type", "password")[0] == 0
        url = f"http://127.0.0.1:{server.port}/token"
        code, _, err = cli("env", "add", "echo", "prod", "--client-id", "e", "--token-url", url)
        assert code == 0, err
        assert cli("secret", "set", "echo", "prod", stdin="client-secret-0123456789")[0] == 0
        code, out, err = cli("login", "echo", "--password-stdin", stdin=f"{USER}\n{password}\n")
    assert code == 1
    assert script.seen
    assert f"password={password}" not in err
    assert "[redacted]" in err
    assert not leaks(out + err, password)


def test_plain_login_of_a_password_only_application_points_at_password(
    cli: CliRunner, server: SandboxServer
) -> None:
    add_password_app(cli, server)
    code, _, err = cli("login", "telenor-app")
    assert code == 2
    assert "credenza login telenor-app --env production --password" in err
    code, _, err = cli("token", "telenor-app")
    assert code != 0
    assert "credenza login telenor-app --env production --password" in err
    assert password_requests(server) == 0


class _Terminal(io.StringIO):
    """Standard input that says it is a terminal: the username typed at the visible prompt."""

    def isatty(self) -> bool:
        return True


def test_login_password_prompts_for_the_username_and_hides_the_password(
    cli: CliRunner,
    server: SandboxServer,
    config_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import getpass

    from credenza.cli import run

    add_password_app(cli, server)
    prompts: list[tuple[str, object]] = []

    def hidden(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append((prompt, stream))
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", hidden)
    monkeypatch.setattr(sys, "stdin", _Terminal(f"{USER}\n"))
    code = run(["--config", str(config_path), "login", "telenor-app", "--password"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "Username: " in err
    assert prompts == [("Password: ", sys.stderr)]
    assert "Signed in to Telenor App / production as" in err
    assert not leaks(out + err, PASSWORD)
    sent = next(r["form"] for r in server.state.requests if r["form"].get("grant_type"))
    assert (sent["username"], sent["password"]) == (USER, PASSWORD)


@pytest.mark.parametrize(
    ("password", "echo"),
    [
        ("hunt2", "invalid_grant: password=hunt2 for ada"),  # shorter than any issued secret
        ("two  spaces  in it", 'bad password "two  spaces  in it"'),  # whitespace runs collapse
        ("p%C3%A9-url", "password=p%25C3%25A9-url"),  # URL-encoded once more by the form
    ],
)
def test_a_sent_password_is_redacted_from_an_echo_whatever_its_length(
    password: str, echo: str
) -> None:
    from credenza.oauth.untrusted import Sent, clean

    shown = clean(echo, Sent(always=[password]))
    assert "[redacted]" in shown
    assert not leaks(shown, password)
    assert not leaks(shown, " ".join(password.split()))
