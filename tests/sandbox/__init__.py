"""Tests of credenza.sandbox."""
