"""Token bindings: how a token is tied to something the client holds (RFC 9449 DPoP)."""
