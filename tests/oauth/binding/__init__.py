"""Tests of credenza.oauth.binding."""
