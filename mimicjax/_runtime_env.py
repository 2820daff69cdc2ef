"""Process-wide settings that must be in place before JAX or MJX is first imported."""

from __future__ import annotations


def configure() -> None:
    """Set environment defaults the user has not set themselves. Idempotent."""
