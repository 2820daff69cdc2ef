"""Evaluation tests share the tiny runs defined in tests/conftest.py (see tiny_runs.py)."""
