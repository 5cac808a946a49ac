"""The token agent: protocol.py (the wire format), server.py (the process), client.py (the fast path)."""
