"""Tests of credenza.oauth."""
