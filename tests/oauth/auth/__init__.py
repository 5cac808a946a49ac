"""Tests of credenza.oauth.auth."""
