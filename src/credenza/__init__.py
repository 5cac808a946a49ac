"""credenza: OAuth2 client credentials across API providers, in one place."""

__version__ = "0.1.0"
