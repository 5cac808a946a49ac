"""Tests of credenza.secrets."""
