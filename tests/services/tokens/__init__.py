"""Tests of credenza.services.tokens."""
