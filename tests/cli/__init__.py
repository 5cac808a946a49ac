"""Tests of credenza.cli."""
