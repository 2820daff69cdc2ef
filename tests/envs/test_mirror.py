"""Mirror transforms T_s (observations) and T_a (actions) of the tracking env."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.envs import mirror as mirror_lib
from mimicjax.envs import observations as obs_lib
from mimicjax.math.rotations import axis_angle_to_quat, quat_to_matrix
from mimicjax import robots
from mimicjax.robots import base as robot_base

NAMES = ("actor", "critic", "teacher", "student")


@pytest.mark.parametrize("variant", ["29dof", "23dof"])
def test_layout_mirrors_are_involutions(variant):
    spec = robots.get(f"g1_{variant}")
    config = obs_lib.ObservationConfig(history=3)
    layouts = {
        "privileged": obs_lib.privileged_layout(spec.num_joints, len(spec.keypoint_bodies), len(spec.body_names), config),
        "student": obs_lib.student_layout(spec.num_joints, len(spec.keypoint_bodies), config),
    }
    for name, layout in layouts.items():
        mirror = mirror_lib.signed_permutation(spec, layout)
        assert mirror.size == obs_lib.layout_size(layout)
        assert mirror.is_involution(), name
        v = jnp.asarray(np.random.default_rng(1).normal(size=(2, 3, mirror.size)), jnp.float32)
        np.testing.assert_array_equal(np.asarray(mirror(mirror(v))), np.asarray(v))
        assert not np.allclose(np.asarray(mirror(v)), np.asarray(v))
    action = mirror_lib.action_mirror(spec)
    assert action.is_involution()
    a = jnp.asarray(np.random.default_rng(2).normal(size=(4, spec.num_joints)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(action(a)), np.asarray(robot_base.mirror_joint_pos(spec, a)))


def test_env_mirrors(tracking_env):
    env = tracking_env[0]
    for name in NAMES:
        mirror = env.mirror_observation(name)
        assert mirror.size == env.observation_size[name]
        assert mirror.is_involution()
    a = jnp.linspace(-1.0, 1.0, env.action_size)
    np.testing.assert_array_equal(np.asarray(env.mirror_action(env.mirror_action(a))), np.asarray(a))
    with pytest.raises(ValueError, match="unknown observation"):
        env.mirror_observation("camera")


def test_rot6d_kind_is_the_reflected_rotation():
    """rot6d of M R M (M = diag(1, -1, 1)) equals the `rot6d` mirror of rot6d(R)."""
    spec = robots.get("g1_29dof")
    q = axis_angle_to_quat(jnp.asarray(np.random.default_rng(3).normal(size=(8, 3)), jnp.float32))
    m = np.diag([1.0, -1.0, 1.0])
    reflected = m @ np.asarray(quat_to_matrix(q)) @ m
    expected = np.concatenate([reflected[..., :, 0], reflected[..., :, 1]], axis=-1)
    np.testing.assert_allclose(np.asarray(mirror_lib.mirror_block(spec, "rot6d", obs_lib.rot6d(q))), expected, atol=1e-6)
    # The mirrored quaternion of robot_base.mirror_quat is the same rotation.
    np.testing.assert_allclose(np.asarray(obs_lib.rot6d(robot_base.mirror_quat(q))), expected, atol=1e-6)


def test_mirrored_reference_state_gives_mirrored_observations(eval_tracking_env, tracking_library):
    """RSI on a clip and on its mirrored copy: obs(mirrored) == T_s(obs(original)) for every observation."""
    env, reset_to = eval_tracking_env
    mirror_of = np.asarray(tracking_library.clip_mirror_of)
    mirrored = [int(np.flatnonzero(mirror_of == c)[0]) for c in (0, 1)]
    clips = jnp.array([0, mirrored[0], 1, mirrored[1]], jnp.int32)
    times = jnp.array([0.73, 0.73, 1.21, 1.21], jnp.float32)
    state = reset_to(jax.random.split(jax.random.key(0), 4), clips, times)
    for name in NAMES:
        obs = np.asarray(state.obs[name])
        mirror = env.mirror_observation(name)
        assert np.all(np.isfinite(obs))
        for a, b in ((0, 1), (2, 3)):
            expected = np.asarray(mirror(jnp.asarray(obs[a])))
            diff = np.abs(obs[b] - expected)
            worst = int(np.argmax(diff))
            layout = env.observation_layout(name)
            where = next(n for n, s in obs_lib.layout_slices(layout).items() if s.start <= worst < s.stop)
            assert diff.max() < 2e-3, f"{name}: block {where} differs by {diff.max():.2e}"
