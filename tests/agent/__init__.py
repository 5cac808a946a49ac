"""Tests of credenza.agent."""
