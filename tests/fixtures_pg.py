"""Fixtures: pg (filled in by the issue that needs them)."""
