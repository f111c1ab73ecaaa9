"""Benchmarks of every tenantdb stage, each figure a ratio against a floor measured in the same run.

Run with ``bench/run [--quick] [--json]``; see docs/performance.md for what each measures.
"""
