"""Bounded local input (SECURITY.md promise 35): files the config names are regular files under a
size cap, taken from the config's directory; names with control characters are refused at add and
edit and shown escaped when hand-edited; imports nested or sized beyond a limit are refused."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
import trustme

from credenza.sandbox import SandboxServer, SandboxState, SandboxTls
from tests.conftest import CliRunner

ERRORS_TABLE = (
    '[[errors]]\nendpoint = "token"\nstatus = 401\ncode = "42"\n'
    'explanation = "the client is suspended"\n'
)


def _write_config(config_path: Path, token_url: str, errors_file: str) -> None:
    """Billing, at provider acme whose errors_file is ``errors_file``, written as a team would."""
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        # With its workspace id, so that a command that reads it writes nothing.
        'version = 1\nworkspace = "bounded-local-input-0001"\n\n'
        "[providers.acme]\n"
        'name = "Acme"\n'
        f"errors_file = {json.dumps(errors_file)}\n\n"
        "[[applications]]\n"
        'id = "billing"\n'
        'name = "Billing"\n'
        'provider = "acme"\n\n'
        "[applications.environments.production]\n"
        'client_id = "billing-prod"\n'
        f"token_url = {json.dumps(token_url)}\n"
    )


def _refused_in_one_line(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert "internal error" not in err
    assert err.startswith("credenza: error: ")
    for needle in needles:
        assert needle in err, err


def _fifo_config(config_path: Path) -> None:
    config_path.parent.mkdir(parents=True)
    fifo = config_path.parent / "errors.toml"
    os.mkfifo(fifo)
    _write_config(config_path, "https://127.0.0.1:9/oauth/token", str(fifo))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "argv", [("token", "billing"), ("env", "list", "billing")], ids=["token", "env-list"]
)
def test_an_errors_file_that_is_a_fifo_is_refused_not_waited_on(
    cli: CliRunner, config_path: Path, argv: tuple[str, ...]
) -> None:
    _fifo_config(config_path)
    before = config_path.read_bytes()
    code, out, err = cli(*argv)
    _refused_in_one_line(
        code, out, err, "providers.acme.errors_file", "not a regular file (a FIFO)"
    )
    assert config_path.read_bytes() == before


@pytest.mark.timeout(30)
def test_verify_reports_a_fifo_errors_file_as_a_config_problem_not_a_hang(
    cli: CliRunner, config_path: Path
) -> None:
    _fifo_config(config_path)
    code, out, err = cli("verify", "billing")
    # verify reports each environment on its row and exits 1 when any failed (its contract).
    assert code == 1, (out, err)
    [row] = [line for line in out.splitlines() if line.startswith("billing")]
    assert "CONFIG" in row
    assert "providers.acme.errors_file" in row
    assert "not a regular file (a FIFO)" in row


@pytest.mark.timeout(30)
def test_an_errors_file_on_dev_zero_is_refused_not_read(cli: CliRunner, config_path: Path) -> None:
    _write_config(config_path, "https://127.0.0.1:9/oauth/token", "/dev/zero")
    code, out, err = cli("env", "list", "billing")
    _refused_in_one_line(code, out, err, "/dev/zero", "not a regular file (a device)")


def test_an_errors_file_larger_than_the_cap_is_refused(cli: CliRunner, config_path: Path) -> None:
    _write_config(config_path, "https://127.0.0.1:9/oauth/token", "errors.toml")
    big = config_path.parent / "errors.toml"
    big.write_text(ERRORS_TABLE + "#" * (1024 * 1024) + "\n")
    code, out, err = cli("env", "list", "billing")
    _refused_in_one_line(code, out, err, "errors_file", "larger than 1 MiB")


def test_a_relative_errors_file_is_the_config_directorys_not_the_current_ones(
    cli: CliRunner,
    sandbox: SandboxServer,
    config_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = sandbox.state.add_client({"client_id": "billing-prod", "scope": "sms:send"})
    _write_config(config_path, f"{sandbox.issuer}/oauth/token", "errors.toml")
    (config_path.parent / "errors.toml").write_text(ERRORS_TABLE)
    # Where credenza runs from has a file of the same name that is not a table at all.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "errors.toml").write_text("this is = = not TOML\n")
    monkeypatch.chdir(elsewhere)
    code, out, err = cli("env", "list", "billing")
    assert code == 0, err
    assert "production" in out
    assert cli("secret", "set", "billing", "production", stdin=client.client_secret)[0] == 0
    code, token, err = cli("token", "billing")
    assert code == 0, err
    assert sandbox.state.lookup(token.strip()) is not None


@pytest.fixture
def tls_sandbox(tmp_path: Path) -> Iterator[tuple[SandboxServer, trustme.CA]]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = tmp_path / "s.pem", tmp_path / "s.key", tmp_path / "server-ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    tls = SandboxTls(str(cert), str(key), client_ca=str(ca_file))
    with SandboxServer(SandboxState(token_ttl=300), tls=tls) as server:
        yield server, ca


def test_a_relative_ca_bundle_and_certificate_are_the_config_directorys(
    cli: CliRunner,
    tls_sandbox: tuple[SandboxServer, trustme.CA],
    config_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, ca = tls_sandbox
    server.state.add_client(
        {
            "client_id": "bank-mtls",
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "client.bank.example",
        }
    )
    issued = ca.issue_cert("client.bank.example")
    assert cli("app", "add", "Bank API")[0] == 0
    code, _, err = cli(
        "env", "add", "bank-api", "production", "--client-id", "bank-mtls",
        "--token-url", f"{server.issuer}/oauth/token", "--auth-method", "tls_client_auth",
    )  # fmt: skip
    assert code == 0, err
    key_pem = issued.private_key_pem.bytes().decode()
    code, _, err = cli("secret", "set", "bank-api", "production", "--private-key", stdin=key_pem)
    assert code == 0, err
    # As a team commits it: both files next to the config, named relative to it.
    issued.cert_chain_pems[0].write_to_path(str(config_path.parent / "client.pem"))
    ca.cert_pem.write_to_path(str(config_path.parent / "ca.pem"))
    data = tomllib.loads(config_path.read_text())
    data.setdefault("settings", {})["ca_bundle"] = "ca.pem"
    data["applications"][0]["environments"]["production"]["certificate"] = "client.pem"
    config_path.write_text(tomli_w.dumps(data))
    # Where credenza runs from has files of the same names that are neither.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("ca.pem", "client.pem"):
        (elsewhere / name).write_text("not PEM\n")
    monkeypatch.chdir(elsewhere)
    code, token, err = cli("token", "bank-api")
    assert code == 0, err
    assert server.state.lookup(token.strip()) is not None


@pytest.mark.parametrize("name", ["Billing\nforged  row  -", "Billing\x1b[2J", "Bill\u202eing"])
def test_app_add_and_edit_refuse_a_name_with_a_control_character(
    cli: CliRunner, config_path: Path, name: str
) -> None:
    assert cli("app", "add", "Payroll")[0] == 0
    before = config_path.read_bytes()
    code, out, err = cli("app", "add", name)
    _refused_in_one_line(code, out, err, "name: contains a control character")
    code, out, err = cli("app", "edit", "payroll", "--name", name)
    _refused_in_one_line(code, out, err, "name: contains a control character")
    code, out, err = cli("app", "edit", "payroll", "--org", name)
    _refused_in_one_line(code, out, err, "organisation: contains a control character")
    assert config_path.read_bytes() == before


def test_hand_edited_names_with_control_characters_are_shown_escaped_on_their_one_row(
    cli: CliRunner, config_path: Path
) -> None:
    config_path.parent.mkdir(parents=True)
    forged = "Billing\nfake-app  Forged  -  -  private  production  9/9"
    shared = "shared\ndue    fake-app     production  -           all is well"
    config_path.write_text(
        "version = 1\n\n"
        "[[applications]]\n"
        'id = "billing"\n'
        f"name = {json.dumps(forged)}\n"
        'organisation = "Acme\\u001b]0;owned\\u0007"\n\n'
        "[applications.environments.production]\n"
        f"client_id = {json.dumps(shared)}\n"
        'token_url = "https://auth.example.com/oauth/token"\n\n'
        '[applications.environments."staging\\nfake-env"]\n'
        'client_id = "billing-staging"\n'
        'token_url = "https://auth.example.com/oauth/token"\n'
        'secret_expires_at = "2000-01-01T00:00:00Z"\n\n'
        "[[applications]]\n"
        'id = "payroll"\n'
        'name = "Payroll"\n\n'
        "[applications.environments.production]\n"
        f"client_id = {json.dumps(shared)}\n"
        'token_url = "https://auth.example.com/oauth/token"\n'
    )
    code, out, err = cli("app", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3, out  # the header, Billing's one row, Payroll's
    assert lines[1].startswith("billing ")
    assert "Billing\\nfake-app" in lines[1]
    assert "Acme\\x1b]0;owned\\x07" in lines[1]
    assert "staging\\nfake-env" in lines[1]
    assert lines[2].startswith("payroll ")
    assert "\x1b" not in out + err
    code, out, err = cli("status")
    assert code == 1, err  # something is due
    assert "\x1b" not in out + err
    assert not [line for line in out.splitlines() if line.startswith("due    fake-app")], out
    assert not [line for line in (out + err).splitlines() if line.startswith("fake-")]
    rows = [line for line in out.splitlines() if "fake-" in line]
    assert len(rows) == 3, out  # the two shared client_ids and the expired staging secret
    assert all(line.startswith(("due ", "waiting ")) for line in rows)
    assert sum("client_id shared\\ndue fake-app" in row for row in rows) == 2
    assert "credenza secret reset billing staging\\nfake-env" in err


def _nested_collection(depth: int) -> str:
    """A collection whose folders nest ``depth`` deep (json.dumps itself cannot write one)."""
    leaf = json.dumps({"name": "leaf", "request": {"method": "GET"}})
    opening = '{"name": "folder", "item": [' * depth
    return '{"info": {"name": "Deep"}, "item": [' + opening + leaf + "]}" * depth + "]}"


def test_a_postman_collection_nested_900_deep_is_refused(
    cli: CliRunner, config_path: Path, tmp_path: Path
) -> None:
    collection = tmp_path / "deep.postman_collection.json"
    collection.write_text(_nested_collection(900))
    code, out, err = cli("import", "postman", str(collection), "--app", "deep")
    _refused_in_one_line(code, out, err, "nested deeper than 64 levels")
    assert not config_path.exists()


@pytest.mark.timeout(30)
def test_an_endless_or_over_size_postman_file_is_refused(
    cli: CliRunner, config_path: Path, tmp_path: Path
) -> None:
    code, out, err = cli("import", "postman", "/dev/zero", "--app", "endless")
    _refused_in_one_line(code, out, err, "/dev/zero is not a regular file (a device)")
    fifo = tmp_path / "pipe.postman_collection.json"
    os.mkfifo(fifo)
    code, out, err = cli("import", "dotenv", str(fifo), "--app", "piped")
    _refused_in_one_line(code, out, err, "is not a regular file (a FIFO)")
    big = tmp_path / "big.postman_collection.json"
    big.write_text(json.dumps({"info": {"name": "Big"}, "padding": "x" * (5 * 1024 * 1024)}))
    code, out, err = cli("import", "postman", str(big), "--app", "big")
    _refused_in_one_line(code, out, err, "larger than 5 MiB")
    assert not config_path.exists()
