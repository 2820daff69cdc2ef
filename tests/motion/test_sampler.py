"""Adaptive start sampling: the bin table, probabilities that follow failures, draws, pure updates."""

from __future__ import annotations

import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.motion.sampler import SamplerConfig, bin_probabilities, draw_starts, init_sampler, sampler_metrics, update_sampler

# Clips of 2.5 s (bins 1, 1, 0.5 s), 1 s and 0 s (one empty bin), and 4 s, with different weights.
LIBRARY = types.SimpleNamespace(
    clip_length=np.array([26, 11, 1, 41]), clip_fps=np.full(4, 10.0), clip_weight=np.array([1.0, 2.0, 1.0, 1.0])
)
DURATION = np.array([2.5, 1.0, 0.0, 4.0])
CONFIG = SamplerConfig(bin_seconds=1.0, uniform_mix=0.1, ema=0.9, smoothing=(0.25, 0.5, 0.25))
LAST_CLIP = slice(5, 9)  # bins of the 4 s clip


@pytest.fixture(scope="module")
def sampler():
    return init_sampler(LIBRARY, CONFIG)


def with_failures(sampler, bin_, fails, total, config=CONFIG, updates=10):
    bins = np.full(total, bin_, np.int32)
    failed = np.arange(total) < fails
    for _ in range(updates):
        sampler = update_sampler(sampler, config, bins, failed, np.ones(total))
    return sampler


def test_bin_table_and_base_distribution(sampler):
    np.testing.assert_array_equal(sampler.clip_of_bin, [0, 0, 0, 1, 2, 3, 3, 3, 3])
    np.testing.assert_allclose(sampler.bin_start, [0, 1, 2, 0, 0, 0, 1, 2, 3])
    np.testing.assert_allclose(sampler.bin_duration, [1, 1, 0.5, 1, 0, 1, 1, 1, 1])
    # clip_weight spread over each clip's bins in proportion to their duration (as the env's own sampling)
    expected = np.array([0.4, 0.4, 0.2, 2.0, 1.0, 0.25, 0.25, 0.25, 0.25]) / 5.0
    np.testing.assert_allclose(sampler.base, expected, rtol=1e-6)
    np.testing.assert_allclose(bin_probabilities(sampler, CONFIG), expected, rtol=1e-6)


def test_probabilities_follow_failures(sampler):
    hard = 6  # the second bin of the 4 s clip
    updated = with_failures(sampler, hard, fails=8, total=10)
    probs = np.asarray(bin_probabilities(updated, CONFIG))
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert probs[hard] > probs[hard - 1] > sampler.base[hard - 1]
    assert probs[hard] > probs[hard + 1] > probs[hard + 2]
    assert probs[hard] > 2.0 * float(sampler.base[hard])
    # Every bin keeps at least its uniform share, and smoothing stays inside the clip.
    assert np.all(probs >= CONFIG.uniform_mix * np.asarray(sampler.base) * (1 - 1e-5))
    np.testing.assert_allclose(probs[:5], CONFIG.uniform_mix * np.asarray(sampler.base[:5]), rtol=1e-5)
    metrics = sampler_metrics(updated, CONFIG)
    assert 0.0 < float(metrics["sampler/entropy"]) < float(sampler_metrics(sampler, CONFIG)["sampler/entropy"]) <= 1.0
    assert float(metrics["sampler/max_prob"]) == pytest.approx(probs.max())


def test_more_failures_get_more_probability(sampler):
    state = with_failures(sampler, 5, fails=2, total=10)
    state = with_failures(state, 8, fails=9, total=10)
    probs = np.asarray(bin_probabilities(state, dataclasses.replace(CONFIG, smoothing=(1.0,))))
    assert probs[8] > probs[5] > probs[6]


def test_draws_match_the_probabilities_and_fall_inside_their_bins(sampler):
    state = with_failures(sampler, 6, fails=8, total=10)
    n = 200_000
    clips, times, bins = jax.jit(draw_starts, static_argnums=(1, 3))(state, CONFIG, jax.random.key(0), n)
    clips, times, bins = map(np.asarray, (clips, times, bins))
    probs = np.asarray(bin_probabilities(state, CONFIG), np.float64)
    counts = np.bincount(bins, minlength=state.num_bins)
    expected = n * probs
    chi2 = np.sum(np.where(expected > 0, (counts - expected) ** 2 / np.maximum(expected, 1e-12), counts))
    dof = state.num_bins - 1
    assert chi2 < dof + 6.0 * np.sqrt(2.0 * dof), (counts, expected)
    np.testing.assert_array_equal(clips, np.asarray(state.clip_of_bin)[bins])
    start, duration = np.asarray(state.bin_start)[bins], np.asarray(state.bin_duration)[bins]
    assert np.all(times >= start) and np.all(times <= start + duration)
    assert np.all(times <= DURATION[clips])


def test_update_is_a_pure_function_of_the_events(sampler):
    rng = np.random.default_rng(0)
    bins = rng.integers(-1, sampler.num_bins, size=(6, 16)).astype(np.int32)
    failed = rng.random((6, 16)) < 0.3
    ended = rng.random((6, 16)) < 0.5
    update = jax.jit(update_sampler, static_argnums=1)
    first = update(sampler, CONFIG, bins, failed, ended)
    again = update(sampler, CONFIG, bins, failed, ended)
    order = rng.permutation(bins.size)
    shuffled = update(sampler, CONFIG, bins.ravel()[order], failed.ravel()[order], ended.ravel()[order])
    # Events of episodes that did not end, or of unknown start, change nothing.
    noise = update(sampler, CONFIG, np.concatenate([bins.ravel(), [3, -1]]), np.concatenate([failed.ravel(), [1, 1]]),
                   np.concatenate([ended.ravel(), [0, 1]]))
    for other in (again, shuffled, noise):
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(other)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    np.testing.assert_array_equal(sampler.failure_ema, 0.0)  # the input is untouched

    counted = ended & (bins >= 0)
    visits = np.bincount(bins[counted], minlength=sampler.num_bins)
    fails = np.bincount(bins[counted & failed], minlength=sampler.num_bins)
    rate = np.where(visits > 0, (1 - CONFIG.ema) * fails / np.maximum(visits, 1), 0.0)
    np.testing.assert_allclose(first.visits, visits)
    np.testing.assert_allclose(first.failure_ema, rate, rtol=1e-6)


def test_bad_configs_are_reported():
    for bad in (dict(bin_seconds=0.0), dict(uniform_mix=1.5), dict(ema=1.0), dict(smoothing=(0.5, 0.5))):
        with pytest.raises(ValueError, match="sampler."):
            init_sampler(LIBRARY, dataclasses.replace(CONFIG, **bad))


def test_rollout_states_with_and_without_a_sampler_round_trip_through_checkpoints(tmp_path, sampler):
    from mimicjax.rl.rollout import RolloutState
    from mimicjax.train import checkpoint

    state = with_failures(sampler, 6, fails=3, total=10)
    zeros = jnp.zeros((4,), jnp.float32)
    for name, value in (("with", state), ("without", None)):
        rollout = RolloutState(env_state={"x": zeros + 1.5}, episode_return=zeros, episode_length=jnp.zeros((4,), jnp.int32),
                               sampler=value)
        with checkpoint.Checkpoints(tmp_path / name, async_save=False) as ckpt:
            ckpt.save(1, {"rollout": rollout})
        restored = checkpoint.restore(tmp_path / name, target={"rollout": rollout})["rollout"]
        assert jax.tree.structure(restored) == jax.tree.structure(rollout)
        for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(rollout)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_library_bin_table_covers_every_clip_and_builds_under_tracing():
    from mimicjax.motion.library import load_library
    from tests.conftest import PROJECT_ROOT

    library = load_library(PROJECT_ROOT / "data" / "motions" / "g1_23dof_samples.npz")
    sampler = init_sampler(library, CONFIG)
    shapes = jax.eval_shape(lambda: init_sampler(library, CONFIG))  # as when restoring a checkpoint
    assert jax.tree.map(lambda x: x.shape, shapes) == jax.tree.map(lambda x: x.shape, sampler)
    covered = np.bincount(np.asarray(sampler.clip_of_bin), weights=np.asarray(sampler.bin_duration), minlength=library.num_clips)
    np.testing.assert_allclose(covered, np.asarray(library.clip_duration), rtol=1e-5)
