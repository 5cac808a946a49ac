"""Tests of credenza.oauth.grants."""
