"""Modal dialogs: each asks one thing and dismisses with its answer (or None)."""
