"""The tracking env's pure pieces: reward terms, keypoint weights, terminations, randomisation, config."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.envs import randomization as rand_lib
from mimicjax.envs import rewards as R
from mimicjax.envs import terminations as T
from mimicjax.envs.tracking import TrackingConfig
from mimicjax.math.rotations import axis_angle_to_quat, quat_multiply
from mimicjax import robots

SPEC = robots.get("g1_29dof")
K = len(SPEC.keypoint_bodies)


def _keypoints(seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(K, 3)), jnp.float32)


def test_every_tracking_term_is_one_at_perfect_tracking():
    p = _keypoints()
    w = R.keypoint_weights(SPEC, R.RewardConfig())
    q = axis_angle_to_quat(jnp.array([0.1, -0.2, 0.3]))
    assert float(R.keypoint_tracking(p, p, w, 0.3)) == pytest.approx(1.0)
    assert float(R.position_tracking(p[0], p[0], 0.3)) == pytest.approx(1.0)
    assert float(R.orientation_tracking(q, q, 0.4)) == pytest.approx(1.0, abs=1e-6)
    assert float(R.mean_square_tracking(p[:, 0], p[:, 0], 0.3)) == pytest.approx(1.0)
    assert float(R.body_velocity_tracking(p, p, 1.0)) == pytest.approx(1.0)
    # And strictly less than one otherwise.
    assert float(R.keypoint_tracking(p + 0.05, p, w, 0.3)) < 1.0
    turned = quat_multiply(axis_angle_to_quat(jnp.array([0.0, 0.0, 0.2])), q)
    assert float(R.orientation_error(turned, q)) == pytest.approx(0.2, abs=1e-5)


def test_keypoint_reward_respects_group_weights():
    w = R.keypoint_weights(SPEC, R.RewardConfig())
    np.testing.assert_allclose(w, [SPEC.keypoint_group_weights[g] for g in SPEC.keypoint_groups])
    p = _keypoints(1)

    def missing(name):  # one keypoint far away: its kernel is ~0
        k = SPEC.keypoint_bodies.index(name)
        return float(R.keypoint_tracking(p.at[k].add(10.0), p, w, 0.3)), k

    hand, k_hand = missing("left_wrist_yaw_link")
    elbow, k_elbow = missing("left_elbow_link")
    knee, k_knee = missing("left_knee_link")
    assert hand < elbow < knee < 1.0
    for value, k in ((hand, k_hand), (elbow, k_elbow), (knee, k_knee)):
        assert value == pytest.approx(1.0 - w[k] / w.sum(), abs=1e-6)


def test_keypoint_weight_overrides_and_bad_names():
    config = R.RewardConfig(keypoint_weight_overrides=(("pelvis", 5.0),), keypoint_group_weights=(("end_effector", 3.0), ("upper", 1.0), ("lower", 0.0)))
    w = R.keypoint_weights(SPEC, config)
    assert w[SPEC.keypoint_bodies.index("pelvis")] == 5.0
    assert w[SPEC.keypoint_bodies.index("left_knee_link")] == 0.0
    assert w[SPEC.keypoint_bodies.index("right_ankle_roll_link")] == 3.0
    with pytest.raises(ValueError, match="not a keypoint"):
        R.keypoint_weights(SPEC, R.RewardConfig(keypoint_weight_overrides=(("nose", 1.0),)))
    with pytest.raises(ValueError, match="the group 'hands', which the robot does not have; groups: .*end_effector"):
        R.keypoint_weights(SPEC, R.RewardConfig(keypoint_group_weights=(("hands", 1.0),)))


def test_groups_not_named_keep_the_robots_default_weight():
    w = R.keypoint_weights(SPEC, R.RewardConfig(keypoint_group_weights=(("upper", 4.0),)))
    default = R.keypoint_weights(SPEC, R.RewardConfig())
    upper = np.array([g == "upper" for g in SPEC.keypoint_groups])
    np.testing.assert_array_equal(w[upper], 4.0)
    np.testing.assert_array_equal(w[~upper], default[~upper])


def test_regularisers():
    a = jnp.arange(4.0)
    assert float(R.action_rate(a, a)) == 0.0 and float(R.action_rate(a, a + 1)) == 4.0
    assert float(R.torque(jnp.array([10.0, -5.0]), jnp.array([10.0, 10.0]))) == pytest.approx(1.25)
    low, high = jnp.array([-1.0, -1.0]), jnp.array([1.0, 1.0])
    assert float(R.joint_limit(jnp.array([0.5, -0.8]), low, high, 0.9)) == 0.0
    assert float(R.joint_limit(jnp.array([0.95, -1.0]), low, high, 0.9)) == pytest.approx(0.05 + 0.1, abs=1e-6)
    count = R.undesired_contacts(jnp.array([0.5, 0.01, -0.1]), 0.02, jnp.float32(1.0))  # 2 low geoms, 1 self-contact
    assert float(count) == 3.0
    assert float(R.termination(jnp.float32(1.0))) == 1.0


def test_total_is_the_weighted_sum_of_all_terms():
    raw = {name: jnp.float32(1.0) for name in R.TERMS}
    config = R.RewardConfig()
    total, weighted = R.total(raw, config)
    assert set(weighted) == set(R.TERMS)
    assert float(total) == pytest.approx(sum(R.weights(config).values()), rel=1e-6)
    total, _ = R.total(raw, dataclasses.replace(config, keypoint=0.0))
    assert float(total) == pytest.approx(sum(R.weights(config).values()) - config.keypoint, rel=1e-6)


def test_anchoring_removes_root_drift_and_heading_but_keeps_height():
    p = _keypoints(2)
    ref_root, ref_quat = jnp.array([1.0, 2.0, 0.7]), axis_angle_to_quat(jnp.array([0.0, 0.0, 0.5]))
    turn = axis_angle_to_quat(jnp.array([0.0, 0.0, -1.2]))
    root = jnp.array([-3.0, 0.5, 0.7])
    quat = quat_multiply(turn, ref_quat)
    # The robot is the reference moved and turned about z: anchored reference == robot.
    from mimicjax.math.rotations import quat_rotate

    robot = root + quat_rotate(jnp.broadcast_to(turn, (K, 4)), p - ref_root)
    anchored = R.anchor_reference(p, ref_root, ref_quat, root, quat)
    np.testing.assert_allclose(np.asarray(anchored), np.asarray(robot), atol=1e-5)
    # The anchored reference does not follow a robot that sank 10 cm, so it stays 10 cm off.
    sunk = R.anchor_reference(p, ref_root, ref_quat, root - jnp.array([0.0, 0.0, 0.1]), quat)
    np.testing.assert_allclose(np.asarray(sunk), np.asarray(robot), atol=1e-5)


def test_termination_causes():
    cfg = T.TerminationConfig()
    up = jnp.array([1.0, 0.0, 0.0, 0.0])
    z = jnp.array([0.0, 0.0, 0.75])
    kp = _keypoints(3)
    qpos, qvel = jnp.zeros(36), jnp.zeros(35)
    base = dict(root_pos=z, ref_root_pos=z, root_quat=up, ref_root_quat=up, keypoint_pos=kp, ref_keypoint_pos=kp, qpos=qpos, qvel=qvel)
    assert float(T.any_cause(T.check(cfg, **base))) == 0.0
    cases = {
        "root_height": dict(root_pos=z - jnp.array([0.0, 0.0, 0.4])),
        "tilt": dict(root_quat=axis_angle_to_quat(jnp.array([1.5, 0.0, 0.0]))),
        "keypoint_drift": dict(keypoint_pos=kp.at[5].add(jnp.array([0.0, 0.6, 0.0]))),
        "nonfinite": dict(qvel=qvel.at[3].set(jnp.nan)),
    }
    for cause, change in cases.items():
        flags = T.check(cfg, **{**base, **change})
        assert float(flags[cause]) == 1.0, cause
        assert float(T.any_cause(flags)) == 1.0
        assert sum(float(v) for v in flags.values()) == 1.0, (cause, flags)
    # A pure heading change is not a fall.
    turned = axis_angle_to_quat(jnp.array([0.0, 0.0, 2.0]))
    assert float(T.check(cfg, **{**base, "root_quat": turned})["tilt"]) == 0.0
    # inf disables a cause.
    off = dataclasses.replace(cfg, max_keypoint_error=float("inf"))
    assert float(T.check(off, **{**base, **cases["keypoint_drift"]})["keypoint_drift"]) == 0.0


def test_randomization_ranges_and_off_switch():
    cfg = rand_lib.RandomizationConfig(max_action_delay=2)
    nbody, nu = 31, 29
    params = jax.vmap(lambda k: rand_lib.sample(cfg, k, nbody, nu))(jax.random.split(jax.random.key(0), 256))
    assert np.all((params.friction >= 0.5) & (params.friction <= 1.25))
    assert np.all(params.mass_scale[:, 0] == 1.0) and np.all((params.mass_scale >= 0.9) & (params.mass_scale <= 1.1))
    assert np.all(np.abs(params.torso_com_offset) <= np.array(cfg.torso_com_offset) + 1e-7)
    assert np.all(np.abs(params.joint_offset) <= cfg.joint_offset + 1e-7)
    assert set(np.unique(params.action_delay).tolist()) == {0, 1, 2}
    assert np.std(np.asarray(params.kp_scale)) > 0.01
    nominal = rand_lib.sample(dataclasses.replace(cfg, enabled=False), jax.random.key(1), nbody, nu)
    for leaf, ref in zip(jax.tree.leaves(nominal), jax.tree.leaves(rand_lib.nominal(nbody, nu))):
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(ref))
    # Pushes are off without randomisation: the velocity is untouched.
    qvel = jnp.zeros(35)
    out, countdown = rand_lib.push(dataclasses.replace(cfg, enabled=False), jnp.full(7, 0.9), qvel, jnp.float32(-1.0), 0.02)
    assert float(jnp.abs(out).max()) == 0.0
    out, countdown = rand_lib.push(cfg, jnp.full(7, 1.0), qvel, jnp.float32(0.01), 0.02)
    np.testing.assert_allclose(np.asarray(out[:6]), cfg.push_lin_vel + cfg.push_ang_vel, rtol=1e-6)
    assert float(countdown) == pytest.approx(cfg.push_interval[1])


def test_action_delay_buffer():
    buffer = jnp.zeros((3, 2))
    outs = []
    for t in range(4):
        applied, buffer = rand_lib.delayed_action(buffer, jnp.full(2, float(t + 1)), 2)
        outs.append(float(applied[0]))
    assert outs == [0.0, 0.0, 1.0, 2.0]
    applied, _ = rand_lib.delayed_action(buffer, jnp.full(2, 9.0), 0)
    assert float(applied[0]) == 9.0


def test_evaluation_config_turns_randomisation_and_noise_off():
    train = TrackingConfig()
    assert train.randomization.enabled and train.observations.noise.enabled
    ev = train.evaluation()
    assert not ev.randomization.enabled and not ev.randomization.pushes and not ev.observations.noise.enabled
    assert ev.rewards == train.rewards and ev.terminations == train.terminations
