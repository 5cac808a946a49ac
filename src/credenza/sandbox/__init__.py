"""The sandbox provider: a local OAuth2 authorization server for the demo, tests and users."""

from credenza.sandbox.server import SandboxServer, SandboxTls
from credenza.sandbox.state import SandboxState

__all__ = ["SandboxServer", "SandboxState", "SandboxTls"]
