"""Tests of credenza.services.team."""
