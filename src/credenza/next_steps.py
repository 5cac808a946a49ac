"""What should happen next, typed: a kind and its arguments, which each interface words its own way.

The layers below the interfaces never spell a command or a key. An error (``CredenzaError``)
or a result carries ``NextStep`` values beside a hint in plain words; the hint marks where each
step goes with ``{0}``, ``{1}``…; ``cli.output`` renders a step as the command to run
(``credenza secret recover APP ENV``), ``tui.advice`` as the key to press, and ``words`` here as
plain words for everything else (a log line, ``str(error)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

StepKind = Literal[
    "set_secret",  # store the credential's secret (or key: options private_key, key_id)
    "recover_secret",  # finish an unfinished reset with the pending secret
    "discard_pending",  # throw away a pending secret that does not work
    "retire_previous",  # overlap rotation: retire the old secret
    "public_key",  # show the public key to register at the provider
    "confirm_endpoint",  # trust a token endpoint that moved to another origin
    "sign_in",  # a person signs in (options: password, device, scope)
    "verify",  # try the credentials with a token call
    "add_environment",  # add an environment (options: client_id, token_url, issuer)
    "edit_environment",  # change an environment's settings (options: what to change)
    "discover",  # read the endpoints from the issuer's metadata
    "list_applications",  # see the applications there are
    "add_application",  # add a new application
    "show_application",  # see an application's details
    "edit_application",  # change an application (options: what to change)
    "register_client",  # register a client at the server (RFC 7591; option issuer)
    "delete_registration",  # delete a client registration (RFC 7592)
    "check_item",  # confirm a production checklist step (args: the item)
    "request_access",  # ask the provider for access (a contract)
    "record_decision",  # record what the provider decided about a request
    "catalogue",  # see the APIs a provider offers
    "unlock_keyring",  # unlock the desktop keyring (or start its service)
    "use_keyring",  # choose the keyring (args: "file" or "system")
    "set_setting",  # change a machine setting (args: name, value)
    "admin_token",  # store a provider's admin token
    "add_provider",  # add a provider record (options: profile, sandbox)
    "edit_provider",  # change a provider record
    "forget_all",  # remove everything this workspace left on this machine
    "team_push",  # put the secrets into the team store
    "team_status",  # see what the team store allows
    "start_sandbox",  # start a local sandbox provider
    "start_demo",  # start the demo (a sandbox with applications in it)
    "start_agent",  # start the token agent
    "install_completion",  # shell completion (args: the shell)
]


@dataclass(frozen=True, slots=True)
class NextStep:
    """One thing the user should do next.

    ``app`` and ``env`` name the credential (None: the user picks it); ``args`` are further
    positional values (a keyring name, a setting); ``options`` are named values, a value of
    None being a flag that is set. Placeholders the user fills in are upper case (``URL``).
    """

    kind: StepKind
    app: str | None = None
    env: str | None = None
    args: tuple[str, ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()


def step(
    kind: StepKind,
    app: str | None = None,
    env: str | None = None,
    *args: str,
    **options: str | None,
) -> NextStep:
    """A next step; ``options`` keep their order (``private_key=None, key_id="KID"``)."""
    return NextStep(kind, app, env, tuple(args), tuple(options.items()))


# Plain words for each kind: what `str(error)` and logs say; the interfaces say it their way.
WORDS: dict[StepKind, str] = {
    "set_secret": "set the secret",
    "recover_secret": "recover the pending secret",
    "discard_pending": "discard the pending secret",
    "retire_previous": "retire the old secret",
    "public_key": "register the public key",
    "confirm_endpoint": "confirm the new endpoint",
    "sign_in": "sign in",
    "verify": "verify the credentials",
    "add_environment": "add the environment",
    "edit_environment": "edit the environment",
    "discover": "discover the endpoints",
    "list_applications": "list the applications",
    "add_application": "add an application",
    "show_application": "show the application",
    "edit_application": "edit the application",
    "register_client": "register the client",
    "delete_registration": "delete the registration",
    "check_item": "confirm the checklist step",
    "request_access": "request access",
    "record_decision": "record the provider's decision",
    "catalogue": "see the provider's catalogue",
    "unlock_keyring": "unlock the keyring",
    "use_keyring": "choose the keyring",
    "set_setting": "change the setting",
    "admin_token": "store the provider's admin token",
    "add_provider": "add the provider",
    "edit_provider": "edit the provider",
    "forget_all": "forget everything on this machine",
    "team_push": "push the secrets to the team store",
    "team_status": "see the team store's status",
    "start_sandbox": "start a sandbox",
    "start_demo": "start the demo",
    "start_agent": "start the agent",
    "install_completion": "install shell completion",
}


# A marker {i}; the second also takes the backticks around one (a command quoted in prose).
_MARKER = re.compile(r"()\{(\d+)\}")
_MARKER_IN_BACKTICKS = re.compile(r"(`?)\{(\d+)\}\1")


@dataclass(frozen=True, slots=True)
class Advice:
    """A sentence of advice in a result (a warning), with the next steps it marks {0}, {1}…;
    ``str`` says it in plain words."""

    words: str
    next_steps: tuple[NextStep, ...] = ()

    def __str__(self) -> str:
        return fill(self.words, self.next_steps)


def words(next_step: NextStep) -> str:
    return WORDS[next_step.kind]


def fill(
    hint: str,
    steps: Sequence[NextStep],
    render: Callable[[NextStep], str] = words,
    *,
    backticks: bool = False,
) -> str:
    """``hint`` with each marker ``{i}`` replaced by ``render(steps[i])``. Backticks around a
    marker (a command quoted in prose) are kept only with ``backticks``."""
    # One pass: a rendered step (it may hold a config string such as "{1}") is never read again.
    rendered = [render(each) for each in steps]
    marker = _MARKER if backticks else _MARKER_IN_BACKTICKS

    def put(match: re.Match[str]) -> str:
        index = int(match.group(2))
        return rendered[index] if index < len(rendered) else match.group(0)

    return marker.sub(put, hint)
