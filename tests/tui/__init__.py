"""Tests of credenza.tui, the dashboard (snapshots under __snapshots__)."""
