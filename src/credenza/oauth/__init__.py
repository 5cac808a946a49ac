"""The OAuth2 client: token requests, refresh, revocation, introspection, discovery."""
