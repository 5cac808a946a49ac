"""The four sections of the dashboard, one screen each."""
