"""The Textual dashboard. The only package that imports Textual; it calls only the Workspace."""
