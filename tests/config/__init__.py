"""Tests of credenza.config."""
