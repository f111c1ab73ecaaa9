"""Fixtures: synth (filled in by the issue that needs them)."""
