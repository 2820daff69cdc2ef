"""Evaluation metrics from per-step records (pure NumPy) and the evaluation library with goal noise."""

from __future__ import annotations

import numpy as np
import pytest

from mimicjax.eval import metrics


def record(terminated, truncated, errors, groups=None):
    """Per-step arrays [T, E] as an evaluation rollout records them."""
    terminated, truncated = np.asarray(terminated, np.float32).T, np.asarray(truncated, np.float32).T
    step_metrics = {"error/keypoint": np.asarray(errors, np.float32).T,
                    "error/keypoint_world": 2 * np.asarray(errors, np.float32).T,
                    "termination/fall": terminated, "termination/keypoint_drift": np.zeros_like(terminated),
                    "termination/any": terminated}
    for group, values in (groups or {}).items():
        step_metrics[f"error/keypoint_{group}"] = np.asarray(values, np.float32).T
    return step_metrics, terminated, truncated


def test_episode_mask_keeps_each_envs_first_episode():
    done = np.array([[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]])  # [T=4, E=3]
    expected = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 0], [0, 1, 0]], bool)
    np.testing.assert_array_equal(metrics.episode_mask(done), expected)


def test_success_and_errors_count_only_the_first_episode():
    # Env 0 reaches its end (truncated at step 2); env 1 falls at step 1, then a new episode runs on.
    step_metrics, terminated, truncated = record(
        terminated=[[0, 0, 0, 0], [0, 1, 0, 0]],
        truncated=[[0, 0, 1, 0], [0, 0, 0, 0]],
        errors=[[0.1, 0.2, 0.3, 9.0], [0.2, 0.6, 9.0, 9.0]],
        groups={"upper": [[0.1, 0.1, 0.1, 9.0], [0.5, 0.5, 9.0, 9.0]]},
    )
    per_episode = metrics.episodes(step_metrics, terminated, truncated, dt=0.02)
    np.testing.assert_array_equal(per_episode["success"], [True, False])
    np.testing.assert_array_equal(per_episode["steps"], [3, 2])
    np.testing.assert_allclose(per_episode["seconds"], [0.06, 0.04])
    assert per_episode["causes"]["fall"].tolist() == [False, True]

    summary = metrics.summarize(per_episode)
    assert summary["success_rate"] == 0.5 and summary["failures"] == 1 and summary["steps"] == 5
    assert summary["keypoint_error"]["mean"] == pytest.approx((0.1 + 0.2 + 0.3 + 0.2 + 0.6) / 5)
    assert summary["keypoint_error"]["max"] == pytest.approx(0.6)
    assert summary["keypoint_error_world"]["max"] == pytest.approx(1.2)
    assert summary["keypoint_error_upper"]["mean"] == pytest.approx(1.3 / 5)
    assert summary["termination_causes"] == {"fall": 1}

    result = metrics.report(per_episode, np.array([1, 0]), ["walk", "wave:mirrored"])
    assert [(c["clip"], c["name"], c["success_rate"]) for c in result["clips"]] == [(0, "walk", 0.0), (1, "wave:mirrored", 1.0)]
    scalars = metrics.scalars(result)
    assert scalars["eval/success_rate"] == 0.5
    assert scalars["eval/clip/walk/keypoint_error/max"] == pytest.approx(0.6)
    assert scalars["eval/clip/wave_mirrored/success_rate"] == 1.0
    text = metrics.table(result)
    assert "overall" in text and "wave:mirrored" in text and "60.0" in text


def test_an_episode_that_never_ends_in_the_horizon_counts_as_survived():
    step_metrics, terminated, truncated = record([[0, 0]], [[0, 0]], [[0.1, 0.1]])
    per_episode = metrics.episodes(step_metrics, terminated, truncated, dt=0.02)
    assert per_episode["success"].tolist() == [True] and per_episode["ended"].tolist() == [False]


def test_evaluation_library_repeats_clips_with_their_own_goal_noise():
    from mimicjax.config import ConfigError, ExperimentConfig
    from mimicjax.envs.sim import SimConfig
    from mimicjax.envs.tracking import TrackingConfig
    from mimicjax.eval.rollout import evaluation_library
    from mimicjax.motion.library import clip_motion
    from mimicjax.train.loop import load_motions, sample_library_path

    library = load_motions(ExperimentConfig(env=TrackingConfig(sim=SimConfig(variant="23dof"))), sample_library_path("23dof"))
    same, clips = evaluation_library(library, episodes=2)
    assert same is library and clips.tolist() == [c for c in range(library.num_clips) for _ in range(2)]

    noisy, clips = evaluation_library(library, episodes=3, noise_scale=0.05, seed=1)
    assert noisy.num_clips == 3 * library.num_clips and clips.tolist() == list(range(3 * library.num_clips))
    assert noisy.meta.clip_names[3:6] == (library.meta.clip_names[1],) * 3
    for copy in (3, 4, 5):  # clip 1's copies: the same motion, their own keypoint noise
        np.testing.assert_array_equal(clip_motion(noisy, copy).joint_pos, clip_motion(library, 1).joint_pos)
    start, length = int(library.clip_start[1]), int(library.clip_length[1])
    clean = np.asarray(library.keypoint_pos[start:start + length])
    jitters = [np.asarray(noisy.keypoint_pos[int(noisy.clip_start[c]):int(noisy.clip_start[c]) + length]) - clean
               for c in (3, 4)]
    assert all(abs(j.std() - 0.05) < 0.005 for j in jitters) and not np.allclose(jitters[0], jitters[1])
    np.testing.assert_allclose(np.asarray(noisy.clip_duration)[3:6], float(library.clip_duration[1]))

    with pytest.raises(ConfigError, match="--episodes"):
        evaluation_library(library, episodes=0)
    with pytest.raises(ConfigError, match="--noise-scale"):
        evaluation_library(library, noise_scale=-1.0)
