"""Tests of credenza.providers."""
