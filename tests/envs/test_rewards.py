"""The tracking env's pure pieces: reward terms, keypoint weights, terminations, randomisation, config."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.envs import observations as obs_lib
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


def _reward_state(n=2, **changes):
    """A RewardState of a robot standing still on its reference (zeros), with `changes`."""
    upright = jnp.array([1.0, 0.0, 0.0, 0.0])
    body = obs_lib.BodyState(
        root_pos=jnp.zeros(3), root_quat=upright, joint_pos=jnp.zeros(n), joint_vel=jnp.zeros(n), root_lin_vel=jnp.zeros(3),
        root_ang_vel=jnp.zeros(3), body_pos=jnp.zeros((K, 3)), body_quat=jnp.tile(upright, (K, 1)),
        body_lin_vel=jnp.zeros((K, 3)), body_ang_vel=jnp.zeros((K, 3)),
    )
    state = R.RewardState(
        robot=body, reference=body, keypoint_pos=jnp.zeros((K, 3)), ref_keypoint_pos=jnp.zeros((K, 3)), action=jnp.zeros(n),
        last_action=jnp.zeros(n), actuator_force=jnp.zeros(n), geom_lowest_z=jnp.ones(3), self_contacts=jnp.float32(0.0),
        terminated=jnp.float32(0.0),
    )
    return state.replace(**changes)


def _constants(n=2):
    ones = np.ones(n, np.float32)
    return R.RewardConstants(keypoint_ids=np.arange(K), keypoint_weights=np.ones(K, np.float32), joint_low=-ones, joint_high=ones,
                             effort_limit=10.0 * ones)


def test_regularisers():
    c = _constants()
    a = jnp.arange(2.0)
    assert float(R.action_rate(_reward_state(action=a, last_action=a), {}, c)) == 0.0
    assert float(R.action_rate(_reward_state(action=a, last_action=a + 1), {}, c)) == 2.0
    assert float(R.torque(_reward_state(actuator_force=jnp.array([10.0, -5.0])), {}, c)) == pytest.approx(1.25)

    def past_limits(q):
        state = _reward_state()
        return float(R.joint_limit(state.replace(robot=state.robot.replace(joint_pos=q)), {"joint_limit_soft_fraction": 0.9}, c))

    assert past_limits(jnp.array([0.5, -0.8])) == 0.0
    assert past_limits(jnp.array([0.95, -1.0])) == pytest.approx(0.05 + 0.1, abs=1e-6)
    low = _reward_state(geom_lowest_z=jnp.array([0.5, 0.01, -0.1]), self_contacts=jnp.float32(1.0))
    assert float(R.undesired_contacts(low, {"floor_clearance": 0.02}, c)) == 3.0  # 2 low geoms, 1 self-contact
    assert float(R.termination(_reward_state(terminated=jnp.float32(1.0)), {}, c)) == 1.0


def test_every_tracking_term_is_one_on_the_reference_and_every_cost_zero():
    raw = R.compute(_reward_state(), R.RewardConfig(), _constants())
    assert list(raw) == list(R.TERMS)
    for name, value in raw.items():
        assert float(value) == pytest.approx(1.0 if R.TERMS[name].weight > 0 else 0.0, abs=1e-6), name


def test_the_registry_makes_the_config():
    """Every term has its weight (named after it) and its parameters as config fields, defaults from TERMS."""
    config = R.RewardConfig()
    for name, term in R.TERMS.items():
        assert getattr(config, name) == term.weight
        for param, default in term.params.items():
            assert getattr(config, param) == default
    assert R.weights(config) == {name: term.weight for name, term in R.TERMS.items()}
    with pytest.raises(ValueError, match="already has a field 'keypoint_sigma'"):
        R.config_class({**R.TERMS, "other": R.Term(R.keypoint, weight=1.0, params={"keypoint_sigma": 0.1})})
    with pytest.raises(ValueError, match="already has a field 'keypoint_frame'"):
        R.config_class({"keypoint_frame": R.Term(R.keypoint, weight=1.0)})


def test_total_is_the_weighted_sum_of_all_terms():
    raw = {name: jnp.float32(1.0) for name in R.TERMS}
    config = R.RewardConfig()
    total, weighted = R.total(raw, config)
    assert set(weighted) == set(R.TERMS)
    assert float(total) == pytest.approx(sum(R.weights(config).values()), rel=1e-6)
    total, _ = R.total(raw, dataclasses.replace(config, keypoint=0.0))
    assert float(total) == pytest.approx(sum(R.weights(config).values()) - config.keypoint, rel=1e-6)


def test_overrides_act_as_the_config_fields_they_name_even_when_traced():
    """A vmapped sweep passes weights and parameters as traced overrides instead of config fields."""
    state, constants = _reward_state(), _constants()
    state = state.replace(keypoint_pos=state.keypoint_pos + 0.05, action=state.action + 0.1)
    changed = dataclasses.replace(R.RewardConfig(), keypoint=3.0, keypoint_sigma=0.2, action_rate=-0.5)
    expected, expected_metrics = R.evaluate(state, changed, constants)
    overrides = {"keypoint": 3.0, "keypoint_sigma": 0.2, "action_rate": -0.5}
    traced = jax.jit(lambda o: R.evaluate(state, R.RewardConfig(), constants, o))(
        {k: jnp.float32(v) for k, v in overrides.items()})
    assert float(traced[0]) == pytest.approx(float(expected), rel=1e-6)
    for name, value in expected_metrics.items():
        assert float(traced[1][name]) == pytest.approx(float(value), rel=1e-6, abs=1e-7), name


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


def upright(state, params, constants):  # the module docstring's example: 1 with the pelvis upright
    tilt = R.orientation_error(R.heading_quat(state.robot.root_quat), state.robot.root_quat)
    return R.kernel(jnp.square(tilt), params["upright_sigma"])


def test_a_term_added_in_one_place_is_logged_raw_and_weighted_and_summed(tracking_library):
    """One registry entry is all a new term needs: config fields, metrics and the sum follow from it."""
    from mimicjax import config as config_lib
    from mimicjax.envs import sim as sim_lib
    from mimicjax.envs.tracking import TrackingEnv

    registry = {**R.TERMS, "upright": R.Term(upright, weight=0.2, params={"upright_sigma": 0.5})}  # the one place
    with_upright = R.config_class(registry)
    # The C engine compiles in seconds on a CPU; it cannot randomise, so the evaluation task.
    impl = "c" if jax.default_backend() == "cpu" else "auto"
    config = TrackingConfig(robot="g1_29dof", sim=sim_lib.SimConfig(impl=impl), rewards=with_upright()).evaluation()
    config = config_lib.apply_overrides(config, ["rewards.upright=0.75", "rewards.upright_sigma=0.4"])  # as any term's
    assert (config.rewards.upright, config.rewards.upright_sigma) == (0.75, 0.4)
    env = TrackingEnv(config, tracking_library)
    assert {"reward/upright", "reward_raw/upright"} <= set(env.metric_names)

    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(0), 2))
    state = jax.jit(jax.vmap(env.step))(state, state.info["last_action"])  # hold the reference pose
    metrics = {name: np.asarray(value) for name, value in state.metrics.items()}
    assert np.all(metrics["reward_raw/upright"] > 0.5) and np.all(metrics["reward_raw/upright"] <= 1.0)
    np.testing.assert_allclose(metrics["reward/upright"], 0.75 * metrics["reward_raw/upright"], rtol=1e-6)
    summed = sum(metrics[f"reward/{name}"] for name in with_upright.terms)
    np.testing.assert_allclose(np.asarray(state.reward), summed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["reward/total"], summed, rtol=1e-5, atol=1e-6)
