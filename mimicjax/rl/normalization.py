"""Running observation statistics (Welford / Chan et al. parallel merge) and normalisation.

`update` reduces a whole batch to (count, mean, sum of squared deviations) with plain `jnp` reductions
and merges that into the running statistics. Under `jit` the reductions over a batch sharded across
devices become cross-device reductions automatically, so the result is the same on 1 or N devices.
Merging per-batch moments (instead of adding raw sums of squares) keeps the variance accurate when the
mean is large compared with the spread.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    count: jax.Array  # () float32: samples seen
    mean: jax.Array  # feature shape
    m2: jax.Array  # feature shape: sum of squared deviations from the mean

    @property
    def variance(self) -> jax.Array:
        """Population variance; 1 before any data, so that normalising then changes nothing."""
        return jnp.where(self.count > 0, self.m2 / jnp.maximum(self.count, 1.0), 1.0)

    @property
    def std(self) -> jax.Array:
        return jnp.sqrt(self.variance)


def init_stats(feature_shape: int | tuple[int, ...], dtype=jnp.float32) -> RunningStats:
    shape = (feature_shape,) if isinstance(feature_shape, int) else tuple(feature_shape)
    return RunningStats(
        count=jnp.zeros((), jnp.float32), mean=jnp.zeros(shape, dtype), m2=jnp.zeros(shape, dtype)
    )


def update(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merge `batch` (any leading axes, then the feature shape) into `stats`."""
    feature_ndim = stats.mean.ndim
    if batch.ndim < feature_ndim or batch.shape[batch.ndim - feature_ndim:] != stats.mean.shape:
        raise ValueError(
            f"batch of shape {batch.shape} does not end in the statistics' feature shape {stats.mean.shape}"
        )
    axes = tuple(range(batch.ndim - feature_ndim))
    batch = batch.astype(stats.mean.dtype)
    n = jnp.asarray(batch.size // max(stats.mean.size, 1), jnp.float32)
    batch_mean = jnp.mean(batch, axis=axes)
    batch_m2 = jnp.sum(jnp.square(batch - batch_mean), axis=axes)
    return merge(stats, RunningStats(count=n, mean=batch_mean, m2=batch_m2))


def merge(a: RunningStats, b: RunningStats) -> RunningStats:
    """Statistics of the union of the samples behind `a` and `b` (Chan et al.'s pairwise update)."""
    count = a.count + b.count
    safe = jnp.maximum(count, 1.0)  # both empty: keep zeros instead of 0/0
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / safe)
    m2 = a.m2 + b.m2 + jnp.square(delta) * (a.count * b.count / safe)
    return RunningStats(count=count, mean=mean, m2=m2)


def normalize(
    stats: RunningStats, x: jax.Array, clip: float | None = 5.0, min_std: float = 1e-6
) -> jax.Array:
    """(x - mean) / std, clipped to [-clip, clip]. `min_std` guards features that never vary."""
    y = (x - stats.mean) / jnp.maximum(stats.std, min_std)
    return y if clip is None else jnp.clip(y, -clip, clip)


def denormalize(stats: RunningStats, y: jax.Array, min_std: float = 1e-6) -> jax.Array:
    return y * jnp.maximum(stats.std, min_std) + stats.mean
