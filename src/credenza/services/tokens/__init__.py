"""Tokens: the service (service.py) and what it is made of — the one store (store.py) and its
index (index.py), issuing a client's token (issue.py), a person's sign-ins (user.py), the
tokens kept fresh by the agent (kept.py), the records (records.py)."""

from credenza.services.tokens.service import Tokens

__all__ = ["Tokens"]
