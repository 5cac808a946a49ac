"""Tests of credenza.services.resets."""
