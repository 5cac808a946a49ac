"""Typed next steps: a service says what should happen next; the CLI names it as a command and
the dashboard as a key, and no layer below them spells a `credenza <command>`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from credenza.cli import output
from credenza.errors import CredenzaError, SecretMissingError, ValidationError
from credenza.next_steps import WORDS, Advice, step
from credenza.tui import advice
from credenza.tui.app import CredenzaApp
from credenza.workspace import Workspace
from tests.conftest import CliRunner

SRC = Path(__file__).resolve().parent.parent / "src" / "credenza"
# The layers below the interfaces: none of them may name a command for the user to run.
BELOW = ["services", "oauth", "secrets", "config", "providers", "agent"]
BELOW += ["errors.py", "next_steps.py", "children.py", "locations.py"]
COMMAND = re.compile(
    r"credenza (secret|env|app|login|keyring use|settings|provider|contract|team|forget"
    r"|completion|agent|token|doctor|sandbox|demo|api|status|verify|import|export|workspace)\b"
)
# Prose that mentions a command without telling the user to run it.
PROSE = (
    "`credenza login` signs in here",  # what a loopback callback is for (checklist)
    "every `credenza token` reads the keyring",  # what the agent being off means (doctor)
    "the next `credenza token` starts",  # what starts the agent (doctor)
    # A provider adapter declares its own CLI option and words (providers/registry.py).
    "a `credenza sandbox serve`",
    "the token `credenza sandbox serve` printed",
)
# Searched for in a shell's rc file (doctor), not said to anyone.
SEARCHED = {"credenza completion"}
# Modules other branches moved this round (services/tokens.py became a package): their hints
# are converted now that it has landed (the sign-in hints live in services/tokens/user.py).
PENDING: set[str] = set()


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant in a module except its docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_layer_below_the_interfaces_names_a_command() -> None:
    found = []
    for name in BELOW:
        where = SRC / name
        files = [where] if where.is_file() else sorted(where.rglob("*.py"))
        for path in files:
            if str(path.relative_to(SRC)) in PENDING:
                continue
            for line, text in _strings(path):
                if text in SEARCHED or any(prose in text for prose in PROSE):
                    continue
                if COMMAND.search(text):
                    found.append(f"{path.relative_to(SRC)}:{line}: {text[:80]!r}")
    assert not found, "\n".join(found)


def test_a_missing_environment_is_the_same_step_in_the_cli_and_the_dashboard(
    cli: CliRunner, workspace: Workspace
) -> None:
    workspace.applications.add("Telenor SMS")
    with pytest.raises(ValidationError) as caught:
        workspace.environments.resolve("telenor-sms", None)
    expected = step("add_environment", "telenor-sms", "ENV", client_id="ID", token_url="URL")
    assert caught.value.next_steps == (expected,)
    code, _, err = cli("token", "telenor-sms")
    assert code == 2
    assert (
        "add one: credenza env add telenor-sms ENV --client-id ID --token-url URL "
        "(or --issuer URL)" in err
    )
    said = advice.advice(CredenzaApp(workspace), caught.value)
    assert said == "Telenor SMS has no environment yet — press a to add an environment"


def test_a_missing_secret_is_the_same_step_in_the_cli_and_the_dashboard(
    cli: CliRunner, workspace: Workspace
) -> None:
    cli("app", "add", "Telenor SMS")
    cli("env", "add", "telenor-sms", "production", "--client-id", "c", "--token-url", "https://x")
    with pytest.raises(SecretMissingError) as caught:
        workspace.secrets.get_client_secret("telenor-sms", "production")
    assert caught.value.next_steps == (step("set_secret", "telenor-sms", "production"),)
    assert output.problem(caught.value).endswith("run `credenza secret set telenor-sms production`")
    dashboard = CredenzaApp(workspace)
    assert advice.advice(dashboard, caught.value).endswith("press s to set the secret")
    dashboard.update_keymap({"environments.set_secret": "S"})  # a key the user remapped
    assert advice.advice(dashboard, caught.value).endswith("press S to set the secret")
    # Everywhere else (a log, a wrapped message) it is said in words, never as a command.
    assert "credenza" not in str(caught.value)
    assert "set the secret" in str(caught.value)


def test_a_command_quotes_what_the_shell_would_split() -> None:
    named = step("confirm_endpoint", "my app", "prod;rm", origin="https://a.example")
    assert output.command(named) == (
        "credenza secret confirm-endpoint 'my app' 'prod;rm' --origin https://a.example"
    )
    assert output.command(step("sign_in", "crm", "production", password=None)) == (
        "credenza login crm --env production --password"
    )
    assert output.command(step("set_secret")) == "credenza secret set"


def test_a_command_holds_no_control_character_from_a_config_string() -> None:
    # A hand-edited name with a newline and an escape: one line, nothing the terminal acts on,
    # and still the one shell word the name is ($'…' in bash and zsh).
    named = step("set_secret", "crm\n\x1b[31mfake", "it's")
    rendered = output.command(named)
    assert rendered == "credenza secret set $'crm\\n\\x1b[31mfake' 'it'\"'\"'s'"
    assert rendered.isprintable()
    said = output.said("failed", "run `{0}`", (named,))
    assert said.isprintable()
    assert "\n" not in output.shown(said)


def test_a_name_that_looks_like_a_marker_is_not_filled_in() -> None:
    first, second = step("set_secret", "{1}", "prod"), step("verify", "crm", "prod")
    filled = output.said("failed", "{0}, then {1}", (first, second))
    assert filled == "failed — credenza secret set '{1}' prod, then credenza verify crm prod"


def test_every_step_has_words_and_every_key_a_binding(workspace: Workspace) -> None:
    assert set(WORDS) == set(output.COMMANDS) | {"unlock_keyring"}
    dashboard = CredenzaApp(workspace)
    for kind in advice.STEP_KEYS:  # an id no binding has raises KeyError
        assert advice.key_for_step(dashboard, step(kind)), kind
        assert "{" not in (advice.press(dashboard, step(kind)) or "{")


def test_advice_in_a_result_is_a_command_in_the_cli_and_a_key_in_the_dashboard(
    workspace: Workspace,
) -> None:
    said = Advice("record it as its own application ({0})", (step("add_application"),))
    assert output.advised(said) == "record it as its own application (credenza app add)"
    assert advice.said_as_keys(CredenzaApp(workspace), said) == (
        "record it as its own application (press a on Applications (1) to add an application)"
    )
    assert str(said) == "record it as its own application (add an application)"


def test_a_hint_without_steps_is_the_same_everywhere() -> None:
    error = CredenzaError("it broke", hint="try again")
    assert str(error) == output.problem(error) == "it broke — try again"


def test_the_dashboard_says_a_hint_in_words_and_a_step_as_its_key(workspace: Workspace) -> None:
    dashboard = CredenzaApp(workspace)
    words_only = ValidationError("x is wrong", hint="nothing was changed")
    assert advice.problem(dashboard, words_only) == "x is wrong — nothing was changed"
    password = ValidationError(
        "crm declares only the password grant",
        hint="sign in with it: {0}",
        next_steps=(step("sign_in", "crm", "production", password=None),),
    )
    assert (
        advice.problem(dashboard, password)
        == "crm declares only the password grant — press l to sign in"
    )
    assert output.problem(password) == (
        "crm declares only the password grant — sign in with it: "
        "credenza login crm --env production --password"
    )
