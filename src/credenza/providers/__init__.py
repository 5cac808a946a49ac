"""Providers: shipped profiles (data) and the adapters that reach a provider's admin side."""
