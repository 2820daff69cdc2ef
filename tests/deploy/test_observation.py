"""The NumPy observation builder (`mimicjax.deploy.observation`) equals the env's student observation,
and needs no JAX. Uses the session's tracking env (29-DoF, synthetic clips, evaluation config)."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.deploy import observation as deploy_obs
from tests.conftest import PROJECT_ROOT


def test_the_builder_imports_no_jax():
    script = ("import sys; import mimicjax.deploy.observation, mimicjax.robots.g1; "
              "sys.exit(1 if 'jax' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT).returncode == 0


def test_numpy_rotations_agree_with_the_jax_ones():
    from mimicjax.math import rotations

    rng = np.random.default_rng(0)
    q = rng.normal(size=(16, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    r = rng.normal(size=(16, 4))
    r /= np.linalg.norm(r, axis=-1, keepdims=True)
    v, t = rng.normal(size=(16, 3)), rng.uniform(size=16)
    np.testing.assert_allclose(deploy_obs.quat_rotate(q, v), rotations.quat_rotate(jnp.asarray(q), jnp.asarray(v)), atol=1e-5)
    np.testing.assert_allclose(deploy_obs.heading_quat(q), rotations.heading_quat(jnp.asarray(q)), atol=1e-5)
    np.testing.assert_allclose(deploy_obs.quat_slerp(q, r, t), rotations.quat_slerp(jnp.asarray(q), jnp.asarray(r), jnp.asarray(t)), atol=1e-5)


def test_the_history_fills_at_reset_then_shifts():
    spec = deploy_obs.ObservationSpec(np.zeros(2), np.ones(2), history=3, goal_offsets=(0.0,), num_keypoints=1, clip=100.0)
    observe = deploy_obs.StudentObservation(spec)
    goal = np.zeros(spec.goal_size)
    upright = np.array([1.0, 0.0, 0.0, 0.0])
    first = observe(np.ones(2), np.zeros(2), np.zeros(3), upright, np.zeros(2), goal)
    frames = first[: 3 * spec.proprio_size].reshape(3, -1)
    assert np.all(frames == frames[0]) and frames[0, 0] == 1.0 and np.allclose(frames[0, 7:10], [0, 0, -1])
    second = observe(2 * np.ones(2), np.zeros(2), np.zeros(3), upright, np.zeros(2), goal)
    frames = second[: 3 * spec.proprio_size].reshape(3, -1)
    assert list(frames[:, 0]) == [1.0, 1.0, 2.0]  # oldest first
    with pytest.raises(ValueError, match="joint_pos: expected shape"):
        observe(np.ones(3), np.zeros(2), np.zeros(3), upright, np.zeros(2), goal)
    observe.reset()
    third = observe(3 * np.ones(2), np.zeros(2), np.zeros(3), upright, np.zeros(2), goal)
    assert np.all(third[: 3 * spec.proprio_size].reshape(3, -1)[:, 0] == 3.0)


def test_the_builder_equals_the_env_student_observation(eval_tracking_env):
    """Robot states at several clips and times (as `reset_to` records them): the builder, fed the joints,
    gyro, IMU orientation, previous action and the motion file, gives the env's observation."""
    env, reset_to = eval_tracking_env
    clips, times = jnp.array([0, 1, 2, 3]), jnp.array([0.0, 0.51, 1.234, 1.9])
    state = reset_to(jax.random.split(jax.random.key(3), len(clips)), clips, times)
    spec = deploy_obs.ObservationSpec.from_env_config(env.config)
    motion = deploy_obs.ReferenceMotion.from_library(env.library)
    qpos, qvel = np.asarray(state.data.qpos), np.asarray(state.data.qvel)
    last_action = np.asarray(state.info["last_action"])
    expected = np.asarray(state.obs["student"])
    assert expected.shape[1] == spec.size
    for i in range(len(clips)):
        observe = deploy_obs.StudentObservation(spec)
        goal = motion.goal(spec, int(clips[i]), float(times[i]))
        built = observe(qpos[i, 7:], qvel[i, 6:], qvel[i, 3:6], qpos[i, 3:7], last_action[i], goal)
        np.testing.assert_allclose(built, expected[i], atol=2e-4, rtol=1e-4)
    targets = deploy_obs.joint_targets(spec, last_action[0])
    np.testing.assert_allclose(targets, qpos[0, 7:], atol=1e-5)  # the reference action holds the reference pose


def test_a_library_file_reads_back_and_bad_files_are_named(tmp_path):
    from mimicjax.train.loop import sample_library_path

    motion = deploy_obs.ReferenceMotion.load(sample_library_path("g1_23dof"))
    assert motion.num_clips == 6 and motion.clip_names[0] == "walk" and motion.duration(0) > 1.0
    frames = motion.sample(0, np.array([-1.0, 0.0, 1e9]))  # clamped to the clip
    np.testing.assert_allclose(frames["root_pos"][0], frames["root_pos"][1])
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(ValueError, match="bad.npz: not a mimicjax motion library"):
        deploy_obs.ReferenceMotion.load(bad)
    with pytest.raises(ValueError, match="clip 9 does not exist"):
        motion.sample(9, np.zeros(1))
