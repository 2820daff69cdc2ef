"""Adaptive start sampling: episodes start more often shortly before where the policy fails.

Every clip of a `MotionLibrary` is cut into bins of `bin_seconds` (the last bin of a clip may be
shorter); all bins of all clips form one flat table. A failure is charged to the bin where it happened
(the reference time at the failing step), not to the bin where its episode started: per bin the sampler
keeps an exponential moving average of the failure rate per control step spent in the bin (a hazard,
independent of where episodes start), and the number of steps spent there. Starts are drawn from a mix of

  * the base distribution: the library's `clip_weight`, spread over each clip's bins in proportion to
    their duration (the env's own uniform sampling), with weight `uniform_mix`, so every bin keeps a
    chance; and
  * failure-driven weights: base x a kernel over the failure rates of the bin and the bins after it in
    the same clip (`lookahead`: weights for offsets 0, 1, 2, ...), so a hard moment is practised from
    the bin it is in and from a little before it (as BeyondMimic's adaptive sampling).

Everything is a pure function of an `AdaptiveSampler` pytree, which lives in the rollout state and so
in every checkpoint:

    sampler = init_sampler(library, config)
    clips, times = draw_starts(sampler, config, rng, n)                 # inside jit
    bins = bin_of(sampler, config, clips_now, times_now)                # where each env is
    sampler = update_sampler(sampler, config, bins, failed)             # after a rollout
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    enabled: bool = True  # adaptive starts in training (evaluation always samples uniformly)
    bin_seconds: float = 1.0
    uniform_mix: float = 0.1  # share of the base (clip_weight x duration) distribution
    ema: float = 0.9  # weight of the previous failure rate at each update
    # Weights of the failure rates of the bins at offsets 0, 1, 2, ... after a start bin (same clip):
    # a failure at bin b raises the start probability of b, b - 1, b - 2, ...
    lookahead: tuple[float, ...] = (1.0, 0.5, 0.25)


@struct.dataclass
class AdaptiveSampler:
    clip_of_bin: jax.Array  # (B,) int32
    bin_start: jax.Array  # (B,) seconds into the clip
    bin_duration: jax.Array  # (B,) seconds
    base: jax.Array  # (B,) the base distribution (sums to 1)
    failure_ema: jax.Array  # (B,) moving average of the failures per control step spent in the bin
    visits: jax.Array  # (B,) control steps spent in the bin so far

    @property
    def num_bins(self) -> int:
        return int(self.clip_of_bin.shape[0])


def check_config(config: SamplerConfig) -> None:
    if not config.bin_seconds > 0:
        raise ValueError(f"sampler.bin_seconds must be positive, got {config.bin_seconds}")
    if not 0.0 <= config.uniform_mix <= 1.0:
        raise ValueError(f"sampler.uniform_mix must be in [0, 1], got {config.uniform_mix}")
    if not 0.0 <= config.ema < 1.0:
        raise ValueError(f"sampler.ema must be in [0, 1), got {config.ema}")
    kernel = config.lookahead
    if len(kernel) < 1 or min(kernel) < 0 or sum(kernel) <= 0:
        raise ValueError(f"sampler.lookahead must be one or more non-negative weights, not all zero; got {kernel}")


def init_sampler(library, config: SamplerConfig) -> AdaptiveSampler:
    """The bin table of `library` (a `MotionLibrary`, or anything with its `clip_length`, `clip_fps` and
    `clip_weight`), no failures yet. Plain numpy, so it also runs under `jax.eval_shape`."""
    check_config(config)
    duration = (np.asarray(library.clip_length, np.float64) - 1.0) / np.asarray(library.clip_fps, np.float64)
    weight = np.asarray(library.clip_weight, np.float64)
    if not np.all(weight >= 0) or weight.sum() <= 0:
        raise ValueError("the motion library's clip_weight must be non-negative with a positive sum")
    counts = np.maximum(1, np.ceil(duration / config.bin_seconds - 1e-6).astype(np.int64))
    clip_of_bin = np.repeat(np.arange(len(duration)), counts)
    index = np.arange(len(clip_of_bin)) - np.repeat(np.cumsum(counts) - counts, counts)
    start = index * config.bin_seconds
    length = np.clip(duration[clip_of_bin] - start, 0.0, config.bin_seconds)
    share = np.where(duration[clip_of_bin] > 0, length / np.maximum(duration[clip_of_bin], 1e-12), 1.0)
    base = weight[clip_of_bin] * share
    zeros = np.zeros(len(clip_of_bin), np.float32)
    return AdaptiveSampler(
        clip_of_bin=jnp.asarray(clip_of_bin, jnp.int32),
        bin_start=jnp.asarray(start, jnp.float32),
        bin_duration=jnp.asarray(length, jnp.float32),
        base=jnp.asarray(base / base.sum(), jnp.float32),
        failure_ema=jnp.asarray(zeros),
        visits=jnp.asarray(zeros),
    )


def _look_ahead(sampler: AdaptiveSampler, values: jax.Array, kernel: tuple[float, ...]) -> jax.Array:
    """sum_j kernel[j] * values[b + j] over the bins b + j of the same clip, divided by sum(kernel)."""
    bins = jnp.arange(sampler.num_bins)
    total = jnp.zeros_like(values)
    for offset, k in enumerate(kernel):
        other = jnp.clip(bins + offset, 0, sampler.num_bins - 1)
        same = (bins + offset < sampler.num_bins) & (sampler.clip_of_bin[other] == sampler.clip_of_bin)
        total = total + k * same.astype(values.dtype) * values[other]
    return total / sum(kernel)


def bin_probabilities(sampler: AdaptiveSampler, config: SamplerConfig) -> jax.Array:
    """(B,) start probability of every bin (sums to 1)."""
    failures = sampler.base * _look_ahead(sampler, sampler.failure_ema, config.lookahead)
    total = jnp.sum(failures)
    adaptive = jnp.where(total > 0, failures / jnp.maximum(total, 1e-30), sampler.base)
    probs = config.uniform_mix * sampler.base + (1.0 - config.uniform_mix) * adaptive
    return probs / jnp.sum(probs)


def draw_starts(sampler: AdaptiveSampler, config: SamplerConfig, rng: jax.Array, n: int):
    """`n` episode starts: (clip ids (n,) int32, start times (n,) seconds).

    One cumulative sum over the bins and a binary search per draw; the time is uniform in its bin.
    """
    cdf = jnp.cumsum(bin_probabilities(sampler, config))
    k_bin, k_time = jax.random.split(rng)
    u = jax.random.uniform(k_bin, (n,), jnp.float32) * cdf[-1]
    bins = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), sampler.num_bins - 1).astype(jnp.int32)
    times = sampler.bin_start[bins] + jax.random.uniform(k_time, (n,), jnp.float32) * sampler.bin_duration[bins]
    return sampler.clip_of_bin[bins], times


def bin_of(sampler: AdaptiveSampler, config: SamplerConfig, clip, time) -> jax.Array:
    """The bin of clip `clip` at `time` seconds (arrays of any equal shape; times past the end fall in
    the clip's last bin)."""
    clip = jnp.asarray(clip, jnp.int32)
    first = jnp.searchsorted(sampler.clip_of_bin, clip, side="left")
    count = jnp.searchsorted(sampler.clip_of_bin, clip, side="right") - first
    index = jnp.floor(jnp.asarray(time, jnp.float32) / config.bin_seconds).astype(jnp.int32)
    return (first + jnp.clip(index, 0, jnp.maximum(count - 1, 0))).astype(jnp.int32)


def update_sampler(sampler: AdaptiveSampler, config: SamplerConfig, bins, failed, counted=None) -> AdaptiveSampler:
    """Fold in a rollout's control steps: each spent in bin `bins` and ending in a failure where `failed` > 0.

    Arrays of any (equal) shape, e.g. [T, N]; steps where `counted` is 0 and bins < 0 are ignored. The
    failure rate of a bin is its failures per step spent in it; bins without a step keep their estimate.
    """
    bins = jnp.ravel(bins)
    counted = bins >= 0 if counted is None else (jnp.ravel(counted) > 0) & (bins >= 0)
    ids = jnp.where(counted, bins, 0)
    steps = jax.ops.segment_sum(counted.astype(jnp.float32), ids, sampler.num_bins)
    fails = jax.ops.segment_sum((counted & (jnp.ravel(failed) > 0)).astype(jnp.float32), ids, sampler.num_bins)
    rate = fails / jnp.maximum(steps, 1.0)
    ema = jnp.where(steps > 0, config.ema * sampler.failure_ema + (1.0 - config.ema) * rate, sampler.failure_ema)
    return sampler.replace(failure_ema=ema, visits=sampler.visits + steps)


def sampler_metrics(sampler: AdaptiveSampler, config: SamplerConfig) -> dict[str, jax.Array]:
    """Scalars to log: normalised entropy of the start distribution (1 = base-like spread), its largest
    probability, the base-weighted failure rate per step and the share of bins visited."""
    probs = bin_probabilities(sampler, config)
    entropy = -jnp.sum(jnp.where(probs > 0, probs * jnp.log(jnp.maximum(probs, 1e-30)), 0.0))
    return {
        "sampler/entropy": entropy / max(math.log(sampler.num_bins), 1e-12),
        "sampler/max_prob": jnp.max(probs),
        "sampler/failure_rate": jnp.sum(sampler.base * sampler.failure_ema),
        "sampler/coverage": jnp.mean((sampler.visits > 0).astype(jnp.float32)),
    }


__all__ = ["AdaptiveSampler", "SamplerConfig", "bin_of", "bin_probabilities", "check_config", "draw_starts",
           "init_sampler", "sampler_metrics", "update_sampler"]
