"""Mirror transforms, the symmetry loss, and mirrored-data augmentation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl import symmetry as sym
from tests.rl.toy_env import PointMassEnv

OBS_SIGN = np.array([1, -1, 1, -1, 1, 1], np.float32)
OBS_PERM = np.array([0, 1, 2, 3, 5, 4])  # the last two entries are a left/right pair
ACT_SIGN = np.array([1, -1, 1], np.float32)
ACT_PERM = np.array([2, 1, 0])


def equivariant_linear_policy(rng):
    """W with W T_s = T_a W, from symmetrising a random matrix: W = (M + T_a M T_s) / 2."""
    T_s = np.eye(6)[OBS_PERM] * OBS_SIGN[:, None]
    T_a = np.eye(3)[ACT_PERM] * ACT_SIGN[:, None]
    m = rng.normal(size=(3, 6))
    w = 0.5 * (m + T_a @ m @ T_s)
    np.testing.assert_allclose(w @ T_s, T_a @ w, atol=1e-12)
    return w.astype(np.float32)


def test_index_mirrors_are_involutions():
    x = jax.random.normal(jax.random.key(0), (5, 6))
    t_s = sym.make_index_mirror(OBS_PERM, OBS_SIGN)
    np.testing.assert_array_equal(t_s(t_s(x)), x)
    assert not np.allclose(t_s(x), x)
    t_a = sym.make_index_mirror(ACT_PERM, ACT_SIGN)
    a = jax.random.normal(jax.random.key(1), (5, 3))
    np.testing.assert_array_equal(t_a(t_a(a)), a)


def test_concat_mirrors_composes_blocks():
    joints = sym.make_index_mirror([1, 0], [1, 1])
    vector = sym.make_index_mirror([0, 1, 2], [1, -1, 1])
    mirror = sym.concat_mirrors([(2, joints), (3, vector), (1, sym.identity_mirror)])
    x = jnp.arange(1.0, 7.0)
    np.testing.assert_array_equal(mirror(x), [2.0, 1.0, 3.0, -4.0, 5.0, 6.0])
    np.testing.assert_array_equal(mirror(mirror(x)), x)
    with pytest.raises(ValueError, match="size 6"):
        mirror(jnp.zeros(5))


@pytest.mark.parametrize(
    "perm, sign, message",
    [
        ([0, 0, 1], None, "permutation"),
        ([1, 2, 0], None, "involution"),  # a 3-cycle
        ([1, 0], [1, -1], "involution"),  # partners with different signs
        ([0, 1], [1, 2], "sign"),
    ],
)
def test_bad_index_mirrors_are_refused(perm, sign, message):
    with pytest.raises(ValueError, match=message):
        sym.make_index_mirror(perm, sign)


def test_symmetry_loss_is_zero_for_an_equivariant_policy():
    rng = np.random.default_rng(0)
    w = jnp.asarray(equivariant_linear_policy(rng))
    t_s, t_a = sym.make_index_mirror(OBS_PERM, OBS_SIGN), sym.make_index_mirror(ACT_PERM, ACT_SIGN)
    obs = jnp.asarray(rng.normal(size=(64, 6)).astype(np.float32))
    policy = lambda s: s @ w.T
    # Zero up to float32 rounding (XLA may sum the two products in different orders).
    assert float(sym.symmetry_loss(policy(obs), policy(t_s(obs)), t_a)) < 1e-10

    broken = w.at[0, 1].add(0.5)  # now W T_s != T_a W
    policy = lambda s: s @ broken.T
    assert float(sym.symmetry_loss(policy(obs), policy(t_s(obs)), t_a)) > 1e-3


def test_symmetry_loss_is_the_mean_squared_norm():
    mean = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    mirrored = jnp.array([[1.0, -2.0], [3.0, 4.0]])
    t_a = sym.make_index_mirror([0, 1], [1, -1])  # T_a(mean) = [[1, -2], [0, 0]]
    assert float(sym.symmetry_loss(mean, mirrored, t_a)) == pytest.approx((0.0 + 25.0) / 2)


def test_g1_action_mirror_matches_the_robot_spec():
    from mimicjax import robots
    from mimicjax.robots import base as robot_base

    spec = robots.get("g1_29dof")
    t_a = sym.make_index_mirror(spec.mirror_perm, spec.mirror_sign)
    a = jax.random.normal(jax.random.key(0), (8, spec.num_joints))
    np.testing.assert_array_equal(t_a(a), robot_base.mirror_joint_pos(spec, a))
    np.testing.assert_array_equal(t_a(t_a(a)), a)
    left_knee, right_knee = spec.joint_names.index("left_knee_joint"), spec.joint_names.index("right_knee_joint")
    np.testing.assert_array_equal(t_a(a)[:, left_knee], a[:, right_knee])


def test_augment_appends_mirrored_copies():
    env = PointMassEnv()
    symmetry = sym.Symmetry.from_env(env)
    samples = {
        "actor_obs": jnp.ones((3, 4)),
        "critic_obs": jnp.ones((3, 7)),
        "action": jnp.ones((3, 2)),
        "advantage": jnp.arange(3.0),
    }
    out = sym.augment(samples, symmetry)
    assert out["actor_obs"].shape == (6, 4)
    np.testing.assert_array_equal(out["actor_obs"][3:], symmetry.actor_obs(samples["actor_obs"]))
    np.testing.assert_array_equal(out["critic_obs"][3:, 1], -1.0)
    np.testing.assert_array_equal(out["action"][3:], [[1.0, -1.0]] * 3)
    np.testing.assert_array_equal(out["advantage"], [0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="critic_obs"):
        sym.augment({"actor_obs": samples["actor_obs"], "action": samples["action"]}, symmetry)
