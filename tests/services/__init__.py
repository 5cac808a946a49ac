"""Tests of credenza.services."""
