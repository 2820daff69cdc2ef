"""Adaptive start sampling: the bin table, failures charged where they happen, draws, pure updates."""

from __future__ import annotations

import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.motion.sampler import SamplerConfig, bin_of, bin_probabilities, draw_starts, init_sampler, sampler_metrics, update_sampler

# Clips of 2.5 s (bins 1, 1, 0.5 s), 1 s and 0 s (one empty bin), and 4 s, with different weights.
LIBRARY = types.SimpleNamespace(
    clip_length=np.array([26, 11, 1, 41]), clip_fps=np.full(4, 10.0), clip_weight=np.array([1.0, 2.0, 1.0, 1.0])
)
DURATION = np.array([2.5, 1.0, 0.0, 4.0])
CONFIG = SamplerConfig(bin_seconds=1.0, uniform_mix=0.1, ema=0.9, lookahead=(1.0, 0.5, 0.25))
LAST_CLIP = slice(5, 9)  # bins of the 4 s clip


@pytest.fixture(scope="module")
def sampler():
    return init_sampler(LIBRARY, CONFIG)


def with_failures(sampler, bin_, fails, total, config=CONFIG, updates=10):
    bins = np.full(total, bin_, np.int32)
    failed = np.arange(total) < fails
    for _ in range(updates):
        sampler = update_sampler(sampler, config, bins, failed)
    return sampler


def test_bin_table_and_base_distribution(sampler):
    np.testing.assert_array_equal(sampler.clip_of_bin, [0, 0, 0, 1, 2, 3, 3, 3, 3])
    np.testing.assert_allclose(sampler.bin_start, [0, 1, 2, 0, 0, 0, 1, 2, 3])
    np.testing.assert_allclose(sampler.bin_duration, [1, 1, 0.5, 1, 0, 1, 1, 1, 1])
    # clip_weight spread over each clip's bins in proportion to their duration (as the env's own sampling)
    expected = np.array([0.4, 0.4, 0.2, 2.0, 1.0, 0.25, 0.25, 0.25, 0.25]) / 5.0
    np.testing.assert_allclose(sampler.base, expected, rtol=1e-6)
    np.testing.assert_allclose(bin_probabilities(sampler, CONFIG), expected, rtol=1e-6)


def test_probabilities_follow_failures_and_look_ahead(sampler):
    hard = 7  # the third bin of the 4 s clip
    updated = with_failures(sampler, hard, fails=8, total=10)
    probs = np.asarray(bin_probabilities(updated, CONFIG))
    base = np.asarray(sampler.base)
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    # Starts at the failing bin and shortly before it are drawn more often, nearer ones more.
    assert probs[hard] > probs[hard - 1] > probs[hard - 2] > base[hard - 2]
    assert probs[hard] > 2.0 * base[hard]
    # Bins after the failure, and other clips, keep only their uniform share.
    uniform = CONFIG.uniform_mix * base
    np.testing.assert_allclose(probs[hard + 1], uniform[hard + 1], rtol=1e-5)
    np.testing.assert_allclose(probs[:5], uniform[:5], rtol=1e-5)
    assert np.all(probs >= uniform * (1 - 1e-5))
    metrics = sampler_metrics(updated, CONFIG)
    assert 0.0 < float(metrics["sampler/entropy"]) < float(sampler_metrics(sampler, CONFIG)["sampler/entropy"]) <= 1.0
    assert float(metrics["sampler/max_prob"]) == pytest.approx(probs.max())


def test_look_ahead_stays_inside_the_clip(sampler):
    # A failure in the first bin of the 4 s clip must not raise the last bin of the clip before it.
    updated = with_failures(sampler, 5, fails=5, total=10)
    probs = np.asarray(bin_probabilities(updated, CONFIG))
    np.testing.assert_allclose(probs[:5], CONFIG.uniform_mix * np.asarray(sampler.base[:5]), rtol=1e-5)


def test_more_failures_get_more_probability(sampler):
    state = with_failures(sampler, 5, fails=2, total=10)
    state = with_failures(state, 8, fails=9, total=10)
    probs = np.asarray(bin_probabilities(state, dataclasses.replace(CONFIG, lookahead=(1.0,))))
    assert probs[8] > probs[5] > probs[6]


def test_bin_of_maps_clip_times_to_their_bins(sampler):
    clips = np.array([0, 0, 0, 0, 1, 2, 3, 3, 3])
    times = np.array([0.0, 0.99, 1.5, 2.5, 0.7, 0.0, 0.2, 3.9, 7.0])  # 2.5 s and 7 s: past the end -> last bin
    np.testing.assert_array_equal(bin_of(sampler, CONFIG, clips, times), [0, 0, 1, 2, 3, 4, 5, 8, 8])


def test_a_failure_is_charged_to_the_bin_where_it_happens(sampler):
    """Episodes start in the first bin of the 4 s clip and fail 2.5 s later: the failure rate rises in
    the bin of the failure (the third), not in the start bin, and the start bin gains probability only
    through the look-ahead kernel."""
    num_envs, dt = 8, 0.1
    times = np.arange(0.0, 2.5 + 1e-6, dt)  # every control step of each episode
    clips = np.full((len(times), num_envs), 3)
    step_times = np.repeat(times[:, None], num_envs, axis=1)
    failed = np.zeros_like(step_times)
    failed[-1] = 1.0  # each episode fails at its last step, at 2.5 s
    bins = bin_of(sampler, CONFIG, clips, step_times)
    updated = update_sampler(sampler, CONFIG, bins, failed)
    rate = np.asarray(updated.failure_ema)
    assert rate[7] > 0 and rate[5] == 0 and rate[6] == 0
    np.testing.assert_allclose(np.asarray(updated.visits)[5:8], [10 * num_envs, 10 * num_envs, 6 * num_envs])
    probs = np.asarray(bin_probabilities(updated, CONFIG))
    assert probs[7] > probs[6] > probs[5] > probs[8]


def test_draws_match_the_probabilities_and_fall_inside_their_bins(sampler):
    state = with_failures(sampler, 6, fails=8, total=10)
    n = 200_000
    clips, times = jax.jit(draw_starts, static_argnums=(1, 3))(state, CONFIG, jax.random.key(0), n)
    clips, times = np.asarray(clips), np.asarray(times)
    bins = np.asarray(bin_of(state, CONFIG, clips, times))
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
    counted = rng.random((6, 16)) < 0.8
    update = jax.jit(update_sampler, static_argnums=1)
    first = update(sampler, CONFIG, bins, failed, counted)
    again = update(sampler, CONFIG, bins, failed, counted)
    order = rng.permutation(bins.size)
    shuffled = update(sampler, CONFIG, bins.ravel()[order], failed.ravel()[order], counted.ravel()[order])
    # Steps that do not count, or of unknown bin, change nothing.
    noise = update(sampler, CONFIG, np.concatenate([bins.ravel(), [3, -1]]), np.concatenate([failed.ravel(), [1, 1]]),
                   np.concatenate([counted.ravel(), [0, 1]]))
    for other in (again, shuffled, noise):
        for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(other)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    np.testing.assert_array_equal(sampler.failure_ema, 0.0)  # the input is untouched

    used = counted & (bins >= 0)
    steps = np.bincount(bins[used], minlength=sampler.num_bins)
    fails = np.bincount(bins[used & failed], minlength=sampler.num_bins)
    rate = np.where(steps > 0, (1 - CONFIG.ema) * fails / np.maximum(steps, 1), 0.0)
    np.testing.assert_allclose(first.visits, steps)
    np.testing.assert_allclose(first.failure_ema, rate, rtol=1e-6)


def test_bad_configs_are_reported():
    for bad in (dict(bin_seconds=0.0), dict(uniform_mix=1.5), dict(ema=1.0), dict(lookahead=()), dict(lookahead=(1.0, -0.5))):
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
