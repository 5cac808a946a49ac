"""`credenza import dotenv|postman` and `credenza export`: secrets reach the keyring and never
the config, the terminal or the export; ambiguous or incomplete files change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from credenza.sandbox import SandboxServer
from credenza.secrets.backends.memory import MemoryKeyring
from tests.conftest import CliRunner

CANARY = "cAnArY-import-0123456789abcdef"


def _nothing_leaks(config_path: Path, *outputs: str) -> None:
    assert CANARY not in config_path.read_text()
    for text in outputs:
        assert CANARY not in text


def test_dotenv_import_stores_the_secret_in_the_keyring_and_a_token_works(
    cli: CliRunner, sandbox: SandboxServer, tmp_path: Path, config_path: Path
) -> None:
    client = sandbox.state.add_client({"client_id": "sms-prod", "scope": "sms:send"})
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# Telenor SMS\n"
        "export CLIENT_ID=sms-prod\n"
        f'CLIENT_SECRET="{client.client_secret}"\n'
        f"TOKEN_URL={sandbox.issuer}/oauth/token  # production\n"
        "SCOPE=sms:send\n"
        "DATABASE_URL=postgres://x\n"
    )
    code, out, err = cli("import", "dotenv", str(env_file), "--app", "Telenor SMS")
    assert code == 0, err
    assert "not used: DATABASE_URL" in err
    assert client.client_secret not in out + err
    assert client.client_secret not in config_path.read_text()
    listed = json.loads(cli("env", "list", "telenor-sms", "--json")[1])[0]
    assert (listed["client_id"], listed["scopes"]) == ("sms-prod", ["sms:send"])
    code, out, err = cli("token", "telenor-sms")
    assert code == 0, err
    assert sandbox.state.lookup(out.strip()) is not None


def test_dotenv_with_several_prefixes_asks_which_and_changes_nothing(
    cli: CliRunner, tmp_path: Path, config_path: Path, memory_keyring: MemoryKeyring
) -> None:
    env_file = tmp_path / "all.env"
    env_file.write_text(
        f"BILLING_CLIENT_ID=b\nBILLING_CLIENT_SECRET={CANARY}\n"
        "BILLING_TOKEN_URL=https://id.example.com/token\n"
        "CRM_CLIENT_ID=c\nCRM_CLIENT_SECRET=other\n"
    )
    code, _, err = cli("import", "dotenv", str(env_file), "--app", "billing")
    assert code == 2
    assert "several clients: BILLING, CRM" in err
    assert "--prefix" in err
    assert not config_path.exists() or "billing" not in config_path.read_text()
    code, _, err = cli("import", "dotenv", str(env_file), "--app", "billing", "--prefix", "billing")
    assert code == 0, err
    assert json.loads(cli("env", "list", "billing", "--json")[1])[0]["client_id"] == "b"
    _nothing_leaks(config_path, err)


def test_dotenv_without_a_token_endpoint_adds_nothing(
    cli: CliRunner, tmp_path: Path, config_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"CLIENT_ID=x\nCLIENT_SECRET={CANARY}\n")
    code, _, err = cli("import", "dotenv", str(env_file), "--app", "Nowhere")
    assert code == 2
    assert "--token-url" in err
    assert json.loads(cli("app", "list", "--json")[1]) == []
    _nothing_leaks(config_path, err)


def test_postman_environment_import(
    cli: CliRunner, sandbox: SandboxServer, tmp_path: Path, config_path: Path
) -> None:
    client = sandbox.state.add_client({"client_id": "pm-env"})
    environment = tmp_path / "prod.postman_environment.json"
    environment.write_text(
        json.dumps(
            {
                "name": "prod",
                "values": [
                    {"key": "clientId", "value": "pm-env", "enabled": True},
                    {"key": "client_secret", "value": client.client_secret, "type": "secret"},
                    {"key": "accessTokenUrl", "value": f"{sandbox.issuer}/oauth/token"},
                    {"key": "baseUrl", "value": "https://api.example.com"},
                ],
            }
        )
    )
    code, _, err = cli("import", "postman", str(environment), "--app", "pm", "--env", "sandbox")
    assert code == 0, err
    assert "not used: baseUrl" in err
    assert cli("verify", "pm", "--env", "sandbox")[0] == 0
    assert client.client_secret not in config_path.read_text()


def test_postman_collection_with_oauth2_auth_and_variables(
    cli: CliRunner, sandbox: SandboxServer, tmp_path: Path
) -> None:
    client = sandbox.state.add_client({"client_id": "pm-coll", "scope": "orders:read"})
    collection = tmp_path / "orders.postman_collection.json"
    collection.write_text(
        json.dumps(
            {
                "info": {"name": "Orders"},
                "auth": {
                    "type": "oauth2",
                    "oauth2": [
                        {"key": "grant_type", "value": "client_credentials"},
                        {"key": "accessTokenUrl", "value": "{{issuer}}/oauth/token"},
                        {"key": "clientId", "value": "{{client}}"},
                        {"key": "clientSecret", "value": "{{secret}}"},
                        {"key": "scope", "value": "orders:read"},
                        {"key": "client_authentication", "value": "body"},
                    ],
                },
                "variable": [{"key": "client", "value": "pm-coll"}],
                "item": [{"name": "list orders", "request": {"method": "GET"}}],
            }
        )
    )
    code, _, err = cli("import", "postman", str(collection), "--app", "orders")
    assert code == 2
    assert "{{issuer}}, {{secret}}" in err
    assert "--environment" in err
    environment = tmp_path / "env.json"
    environment.write_text(
        json.dumps(
            {
                "values": [
                    {"key": "issuer", "value": sandbox.issuer},
                    {"key": "secret", "value": client.client_secret},
                ]
            }
        )
    )
    # The sandbox client expects Basic; the collection says body: the import keeps Postman's.
    code, _, err = cli(
        "import", "postman", str(collection), "--environment", str(environment), "--app", "orders"
    )
    assert code == 0, err
    listed = json.loads(cli("env", "list", "orders", "--json")[1])[0]
    assert (listed["client_id"], listed["auth_method"], listed["scopes"]) == (
        "pm-coll",
        "client_secret_post",
        ["orders:read"],
    )


def test_a_file_that_is_not_postman_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "x.json"
    other.write_text('{"hello": 1}')
    code, _, err = cli("import", "postman", str(other), "--app", "x")
    assert code == 2
    assert "neither a Postman environment nor a collection" in err
    code, _, err = cli("import", "postman", str(tmp_path / "missing.json"), "--app", "x")
    assert code == 2
    assert "no such file" in err


def test_export_writes_records_as_json_without_secrets(
    cli: CliRunner, sandbox: SandboxServer, tmp_path: Path
) -> None:
    client = sandbox.state.add_client({"client_id": "exp"})
    cli("app", "add", "Exported", "--owner", "a@example.no")
    cli(
        "env",
        "add",
        "exported",
        "production",
        "--client-id",
        "exp",
        "--token-url",
        f"{sandbox.issuer}/oauth/token",
        "--secret-expires",
        "2030-01-01",
    )
    cli("secret", "set", "exported", "production", stdin=client.client_secret)
    code, out, _ = cli("export")
    assert code == 0
    data = json.loads(out)
    assert client.client_secret not in out
    environment = data["applications"][0]["environments"]["production"]
    assert environment["client_id"] == "exp"
    assert environment["secret_expires_at"].startswith("2030-01-01T00:00:00")
    target = tmp_path / "out.json"
    assert cli("export", "--output", str(target))[0] == 0
    assert json.loads(target.read_text())["applications"][0]["id"] == "exported"
