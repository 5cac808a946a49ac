"""Widgets of our own, where Textual's would cost too much or do too little."""
