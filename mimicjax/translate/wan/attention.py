"""Multi-head attention for the Wan transformer.

`attention(q, k, v)` takes [batch, length, heads, head_dim] arrays (the layout of
`jax.nn.dot_product_attention`) and picks an implementation:

* "cudnn" / "xla": `jax.nn.dot_product_attention` with that implementation.
* "chunked": queries in blocks of `block_q` under `lax.map`, each block attending to all keys;
  the logits held at once are [batch, heads, block_q, kv_length] instead of the full square, and each
  block is rematerialised in the backward pass so training memory stays bounded as well.
* "auto": on GPU with 16-bit inputs, `implementation=None` (cuDNN flash attention when it applies, XLA
  otherwise); elsewhere XLA while the full logits fit in `max_logits_bytes`, chunked beyond that.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DEFAULT_MAX_LOGITS_BYTES = 512 * 2**20


def choose_implementation(
    q_shape, kv_length: int, dtype, *, requested: str = "auto", max_logits_bytes: int = DEFAULT_MAX_LOGITS_BYTES
) -> str:
    """The implementation `attention` will use for these shapes: 'fused', 'cudnn', 'xla' or 'chunked'."""
    if requested in ("xla", "cudnn", "chunked"):
        return requested
    if requested != "auto":
        raise ValueError(f"unknown attention implementation {requested!r}")
    batch, q_length, heads, _ = q_shape
    backend = jax.default_backend()
    if backend == "gpu" and jnp.dtype(dtype) in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16)):
        return "fused"
    logits_bytes = 4 * batch * heads * q_length * kv_length
    return "xla" if logits_bytes <= max_logits_bytes else "chunked"


def attention(
    q: jnp.ndarray,
    k: jnp.ndarray,
    v: jnp.ndarray,
    *,
    implementation: str = "auto",
    block_q: int = 512,
    max_logits_bytes: int = DEFAULT_MAX_LOGITS_BYTES,
) -> jnp.ndarray:
    """Softmax attention with scale 1/sqrt(head_dim); returns [batch, q_length, heads, head_dim]."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"attention expects [B, L, heads, head_dim] arrays, got {q.shape}, {k.shape}, {v.shape}")
    choice = choose_implementation(
        q.shape, k.shape[1], q.dtype, requested=implementation, max_logits_bytes=max_logits_bytes
    )
    if choice == "fused":
        return jax.nn.dot_product_attention(q, k, v, implementation=None)
    if choice in ("xla", "cudnn"):
        return jax.nn.dot_product_attention(q, k, v, implementation=choice)
    return chunked_attention(q, k, v, block_q=block_q)


def chunked_attention(q: jnp.ndarray, k: jnp.ndarray, v: jnp.ndarray, *, block_q: int = 512) -> jnp.ndarray:
    """Exact attention computed one block of queries at a time (see module docstring)."""
    batch, length, heads, head_dim = q.shape
    block = max(1, min(block_q, length))
    blocks = -(-length // block)
    padded = blocks * block
    if padded != length:
        q = jnp.pad(q, ((0, 0), (0, padded - length), (0, 0), (0, 0)))
    q_blocks = q.reshape(batch, blocks, block, heads, head_dim).swapaxes(0, 1)

    @jax.checkpoint
    def one_block(q_block):
        return jax.nn.dot_product_attention(q_block, k, v, implementation="xla")

    out = jax.lax.map(one_block, q_blocks)
    out = out.swapaxes(0, 1).reshape(batch, padded, heads, head_dim)
    return out[:, :length]
