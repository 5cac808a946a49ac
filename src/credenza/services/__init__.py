"""The service layer: one service per concept, wired by ``credenza.workspace.Workspace``."""
