"""The sandbox provider: a local OAuth2 authorization server for the demo, tests and users."""

from credenza.sandbox.clients import SandboxState
from credenza.sandbox.server import SandboxServer, SandboxTls

__all__ = ["SandboxServer", "SandboxState", "SandboxTls"]
