"""3D rotary position embedding of the Wan transformer.

Each attention head's channels are split into a temporal, a height and a width part
(h = w = 2 * (head_dim // 6), t = the rest). A token at grid position (f, y, x) rotates the channel
pairs (2i, 2i+1) of each part by position * theta^(-2i / part_dim). The tables depend only on static
shapes, so they are computed once in float64 NumPy and enter the graph as float32 constants.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np


def rope_split(head_dim: int) -> tuple[int, int, int]:
    """Channels of a head given to (time, height, width)."""
    h_dim = w_dim = 2 * (head_dim // 6)
    return head_dim - h_dim - w_dim, h_dim, w_dim


@functools.lru_cache(maxsize=64)
def _axis_angles(dim: int, length: int, theta: float) -> np.ndarray:
    inv_freq = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    return np.outer(np.arange(length, dtype=np.float64), inv_freq)  # [length, dim / 2]


@functools.lru_cache(maxsize=64)
def rope_tables(
    head_dim: int, grid: tuple[int, int, int], theta: float = 10000.0, max_seq_len: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of the rotation angles, each [F*H*W, head_dim // 2] float32, tokens in (f, h, w) order."""
    frames, height, width = grid
    if max(grid) > max_seq_len:
        raise ValueError(
            f"latent grid {grid} (after patching) exceeds rope_max_seq_len={max_seq_len} on some axis"
        )
    t_dim, h_dim, w_dim = rope_split(head_dim)
    at = _axis_angles(t_dim, frames, theta)
    ah = _axis_angles(h_dim, height, theta)
    aw = _axis_angles(w_dim, width, theta)
    angles = np.concatenate(
        [
            np.broadcast_to(at[:, None, None, :], (frames, height, width, at.shape[-1])),
            np.broadcast_to(ah[None, :, None, :], (frames, height, width, ah.shape[-1])),
            np.broadcast_to(aw[None, None, :, :], (frames, height, width, aw.shape[-1])),
        ],
        axis=-1,
    ).reshape(frames * height * width, head_dim // 2)
    cos = np.cos(angles).astype(np.float32)
    sin = np.sin(angles).astype(np.float32)
    cos.setflags(write=False)
    sin.setflags(write=False)
    return cos, sin


def apply_rope(x: jnp.ndarray, cos: jnp.ndarray, sin: jnp.ndarray) -> jnp.ndarray:
    """Rotate interleaved channel pairs of x [B, L, heads, head_dim] by tables [L, head_dim // 2].

    Computed in float32 and returned in x's dtype.
    """
    dtype = x.dtype
    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
    x1, x2 = pairs[..., 0], pairs[..., 1]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    out = jnp.stack([x1 * c - x2 * s, x1 * s + x2 * c], axis=-1)
    return out.reshape(x.shape).astype(dtype)
