"""Small, shared numerical building blocks (rotations)."""
