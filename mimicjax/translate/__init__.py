"""H2R-Grounder's video translator: a Flax port of the Wan 2.x video diffusion transformer, flow
matching, LoRA and the in-context conditioning used to turn human videos into robot videos.

Submodules import JAX on use; importing this package is cheap.
"""
