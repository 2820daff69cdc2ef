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
    from mimicjax.envs.tracking import TrackingConfig
    from mimicjax.eval.rollout import evaluation_library
    from mimicjax.motion.library import clip_motion
    from mimicjax.train.loop import load_motions, sample_library_path

    library = load_motions(ExperimentConfig(env=TrackingConfig(robot="g1_23dof")), sample_library_path("g1_23dof"))
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


# ---- episodes from the start and from random starts -------------------------------------------------


def sample_library():
    from mimicjax.config import ExperimentConfig
    from mimicjax.envs.tracking import TrackingConfig
    from mimicjax.train.loop import load_motions, sample_library_path

    return load_motions(ExperimentConfig(env=TrackingConfig(robot="g1_23dof")), sample_library_path("g1_23dof"))


def test_report_splits_from_start_and_random_starts():
    # Clip 0: from the start survives, its two random starts: one falls. Clip 1: from the start only.
    step_metrics, terminated, truncated = record(
        terminated=[[0, 0], [0, 1], [0, 0], [0, 0]],
        truncated=[[0, 1], [0, 0], [0, 1], [0, 1]],
        errors=[[0.1, 0.1], [0.3, 0.5], [0.2, 0.2], [0.4, 0.4]],
    )
    per_episode = metrics.episodes(step_metrics, terminated, truncated, dt=0.02)
    result = metrics.report(per_episode, np.array([0, 0, 1, 0]), ["walk", "wave"],
                            from_start=np.array([True, False, True, False]))
    assert result["overall"]["episodes"] == 4 and result["overall"]["success_rate"] == 0.75  # combined
    assert result["from_start"]["episodes"] == 2 and result["from_start"]["success_rate"] == 1.0
    assert result["random_starts"]["episodes"] == 2 and result["random_starts"]["success_rate"] == 0.5
    assert result["random_starts"]["keypoint_error"]["mean"] == pytest.approx((0.3 + 0.5 + 0.4 + 0.4) / 4)
    walk, wave = result["clips"]
    assert (walk["episodes"], walk["from_start"]["episodes"], walk["random_starts"]["episodes"]) == (3, 1, 2)
    assert walk["success_rate"] == pytest.approx(2 / 3) and walk["random_starts"]["success_rate"] == 0.5
    assert wave["random_starts"] is None and wave["from_start"]["success_rate"] == 1.0
    scalars = metrics.scalars(result)
    assert scalars["eval/success_rate"] == 0.75 and scalars["eval/random_starts/success_rate"] == 0.5
    assert scalars["eval/clip/walk/from_start/success_rate"] == 1.0 and "eval/clip/wave/random_starts/success_rate" not in scalars
    lines = metrics.table(result).splitlines()
    assert lines[0].split()[:4] == ["clip", "starts", "episodes", "success"]
    assert [line.split()[0] for line in lines[2:]] == ["walk", "random", "all", "wave", "all", "overall", "random", "all"]

    # Without random starts: the table of old, one row per clip, and no random-start summaries.
    result = metrics.report(per_episode, np.array([0, 0, 1, 0]), ["walk", "wave"])
    assert result["random_starts"] is None and result["from_start"] == result["overall"]
    assert "starts" not in metrics.table(result) and len(metrics.table(result).splitlines()) == 5


def test_random_start_times_are_seeded_and_leave_the_minimum_remaining():
    from types import SimpleNamespace

    from mimicjax.eval.rollout import random_start_times

    library = SimpleNamespace(clip_duration=np.array([4.0, 0.6, 1.0], np.float32))
    times = random_start_times(library, 50, seed=3)
    assert times.shape == (150,) and times.dtype == np.float32
    np.testing.assert_array_equal(times, random_start_times(library, 50, seed=3))  # deterministic
    assert not np.allclose(times, random_start_times(library, 50, seed=4))
    walk, short, exact = times.reshape(3, 50)
    assert walk.min() >= 0 and walk.max() <= 3.0 and walk.std() > 0.5  # uniform in [0, 4 - 1]
    assert np.all(short == 0) and np.all(exact == 0)  # a clip of 1 s or less is run whole
    assert random_start_times(library, 4, seed=3, min_remaining=0.5)[4:8].max() <= 0.1 + 1e-6
    with pytest.raises(Exception, match="--random-starts"):
        random_start_times(library, -1)


def test_evaluation_plan_keeps_the_from_start_episodes_of_old():
    import jax
    from types import SimpleNamespace

    from mimicjax.eval import rollout

    library = sample_library()
    clips = library.num_clips
    for noise in (0.0, 0.05):
        old_library, old_clips = rollout.evaluation_library(library, episodes=2, noise_scale=noise, seed=1)
        plan = rollout.evaluation_plan(library, episodes=2, random_starts=3, noise_scale=noise, seed=1)
        first = 2 * clips
        assert len(plan.env_clips) == 5 * clips and plan.from_start.tolist() == [True] * first + [False] * 3 * clips
        np.testing.assert_array_equal(plan.env_clips[:first], old_clips)
        np.testing.assert_array_equal(plan.start_times[:first], 0.0)
        np.testing.assert_array_equal(plan.source_clips, np.r_[np.repeat(np.arange(clips), 2), np.repeat(np.arange(clips), 3)])
        np.testing.assert_array_equal(plan.start_times[first:], rollout.random_start_times(library, 3, seed=1))
        frames = int(np.sum(np.asarray(old_library.clip_length)))
        np.testing.assert_array_equal(np.asarray(plan.library.keypoint_pos)[:frames], np.asarray(old_library.keypoint_pos))
        assert plan.library.meta.clip_names[:first] == old_library.meta.clip_names
        # The rollout lasts as long as before: a random start has less of its clip left.
        env = SimpleNamespace(dt=0.02, max_steps=10_000)
        assert rollout.rollout_steps(env, plan.library, plan.env_clips, plan.start_times) == \
            rollout.rollout_steps(env, old_library, old_clips)
    noisy = rollout.evaluation_plan(library, episodes=1, random_starts=1, noise_scale=0.05, seed=1).library
    random_copy = clips + 1  # clip 1's random-start copy has its own noise, not the from-start copy's
    assert not np.allclose(np.asarray(noisy.keypoint_pos[int(noisy.clip_start[random_copy]):][:10]),
                           np.asarray(noisy.keypoint_pos[int(noisy.clip_start[1]):][:10]))
    # Reset keys: the from-start episodes get the keys of old whatever follows them.
    keys = jax.random.key_data(rollout.episode_keys(0, plan.from_start))
    np.testing.assert_array_equal(keys[:first], jax.random.key_data(jax.random.split(jax.random.key(0), first)))
    # Mirror links survive the selection of clips.
    np.testing.assert_array_equal(np.asarray(rollout.repeat_clips(library, 2).clip_mirror_of),
                                  np.where(np.asarray(library.clip_mirror_of) >= 0, 2 * np.asarray(library.clip_mirror_of), -1).repeat(2))


def test_video_env_config_runs_every_clip_to_its_end():
    import math

    from mimicjax import config as config_lib
    from mimicjax.eval.rollout import render_env_config
    from tests.eval.tiny_runs import teacher_config

    library = sample_library()
    config = teacher_config()  # episodes of 0.3 s
    video = render_env_config(config, library)
    terms = video.terminations
    assert math.isinf(terms.max_root_height_error) and math.isinf(terms.max_tilt_error) and math.isinf(terms.max_keypoint_error)
    assert math.isfinite(terms.max_joint_speed)  # the physics divergence guard stays
    assert video.episode_seconds > float(np.max(np.asarray(library.clip_duration)))
    assert not video.randomization.enabled and config_lib.to_dict(video.rewards) == config_lib.to_dict(config.env.rewards)


def test_mean_and_ci_is_the_student_t_interval():
    mean, half = metrics.mean_and_ci([1.0, 2.0, 3.0])
    # t(0.975, 2 dof) = 4.303, standard error of the mean = 1 / sqrt(3)
    assert mean == 2.0 and half == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
    assert metrics.mean_and_ci([1.0, 2.0, 3.0], level=0.5)[1] < half
    assert np.isnan(metrics.mean_and_ci([5.0])[1]) and metrics.mean_and_ci([5.0])[0] == 5.0
    assert all(np.isnan(metrics.mean_and_ci([])))
