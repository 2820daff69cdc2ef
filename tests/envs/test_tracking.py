"""The tracking env through its compiled, vmapped reset and step (shared per session, see conftest)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mimicjax.envs import observations as obs_lib
from mimicjax.envs import sim as sim_lib
from mimicjax.envs.tracking import TrackingConfig, TrackingEnv
from mimicjax.math.rotations import axis_angle_to_quat, quat_multiply
from mimicjax.motion.library import sample
from mimicjax import robots
from tests.conftest import TRACKING_BATCH as B


@pytest.fixture(scope="module")
def start(tracking_env):
    env, reset, _ = tracking_env
    return reset(jax.random.split(jax.random.key(0), B))


def _reference_actions(env, state):
    """Actions whose PD targets are the reference joint angles at the next control step."""
    frame = sample(env.library, state.info["clip"], state.info["time"] + env.dt)
    return (frame.joint_pos - env.default_pose - state.info["params"].joint_offset) / env.action_scale


def _with(state, qpos=None, **info):
    data = state.data if qpos is None else state.data.replace(qpos=qpos)
    return state.replace(data=data, info={**state.info, **info})


def test_observation_sizes(tracking_env, tracking_library, start):
    env = tracking_env[0]
    sizes = env.observation_size
    n, k = 29, len(robots.get("g1_29dof").keypoint_bodies)
    assert sizes["actor"] == sizes["teacher"] == sizes["critic"]
    assert sizes["student"] == 5 * (3 * n + 6) + 4 * (k * 3 + 9)
    for name, size in sizes.items():
        assert start.obs[name].shape == (B, size), name
        assert np.all(np.isfinite(np.asarray(start.obs[name])))
        assert obs_lib.layout_size(env.observation_layout(name)) == size
    assert env.action_size == n
    # 23-DoF: the same layout over fewer joints (no compile needed to check the sizes).
    from tests.envs.synthetic_motion import synthetic_library

    env23 = TrackingEnv(TrackingConfig(robot="g1_23dof", sim=sim_lib.SimConfig(impl="jax")), synthetic_library("23dof", mirror=False))
    assert env23.action_size == 23
    assert env23.observation_size["student"] == 5 * (3 * 23 + 6) + 4 * (k * 3 + 9)
    # Six joints fewer in ten per-joint vectors (joints, velocities, last action, 4 goal frames, 3 randomisations).
    assert env23.observation_size["critic"] == sizes["critic"] - 6 * 10
    student = TrackingEnv(TrackingConfig(observations=obs_lib.ObservationConfig(actor="student")), tracking_library, sim=env.sim)
    assert student.observation_size["actor"] == student.observation_size["student"]


def test_library_must_match_the_robot(tracking_env):
    from tests.envs.synthetic_motion import synthetic_library

    with pytest.raises(ValueError, match="23dof"):
        TrackingEnv(tracking_env[0].config, synthetic_library("23dof", mirror=False), sim=tracking_env[0].sim)


def test_reset_puts_the_robot_on_the_reference(eval_tracking_env):
    env, reset_to = eval_tracking_env
    clips, times = jnp.array([0, 1, 2, 3]), jnp.array([0.0, 0.51, 1.234, 1.9])
    state = reset_to(jax.random.split(jax.random.key(1), B), clips, times)
    frame = sample(env.library, clips, times)
    np.testing.assert_allclose(np.asarray(state.data.qpos[:, 7:]), np.asarray(frame.joint_pos), atol=1e-6)
    np.testing.assert_allclose(np.asarray(state.data.qpos[:, :3]), np.asarray(frame.root_pos), atol=1e-6)
    np.testing.assert_allclose(np.asarray(state.data.qvel[:, 6:]), np.asarray(frame.joint_vel), atol=1e-6)
    model = robots.get("g1_29dof").load_model()
    data = mujoco.MjData(model)
    for i, qpos in enumerate(np.asarray(state.data.qpos)):
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        error = np.linalg.norm(data.xpos[env.keypoint_ids] - np.asarray(frame.keypoint_pos[i]), axis=-1)
        assert error.max() < 2e-3, error.max()  # library keypoints interpolate between frames
    np.testing.assert_allclose(np.asarray(state.info["time"]), np.asarray(times))
    assert np.all(np.asarray(state.info["steps"]) == 0)


def test_body_state_matches_mujoco():
    """Poses and velocities of every body agree with MuJoCo's C engine."""
    spec = robots.get("g1_29dof")
    model = robots.get("g1_29dof").load_model()
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    data.qpos[:3] = [0.1, -0.2, 0.8]
    data.qpos[3:7] = np.asarray(axis_angle_to_quat(jnp.asarray(rng.normal(size=3) * 0.5)))
    data.qpos[7:] = spec.default_pose + rng.normal(size=29) * 0.3
    data.qvel[:] = rng.normal(size=35)
    mujoco.mj_forward(model, data)
    body_state = jax.jit(obs_lib.robot_body_state)
    state = body_state(robots.get("g1_29dof").tree, jnp.asarray(data.qpos, jnp.float32), jnp.asarray(data.qvel, jnp.float32))
    np.testing.assert_allclose(np.asarray(state.body_pos), data.xpos, atol=1e-5)
    velocity = np.zeros(6)
    for body in range(1, model.nbody):
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, body, velocity, 0)  # body origin, world axes
        np.testing.assert_allclose(np.asarray(state.body_ang_vel[body]), velocity[:3], atol=1e-4)
        np.testing.assert_allclose(np.asarray(state.body_lin_vel[body]), velocity[3:], atol=1e-4)


def test_step_logs_every_metric_and_tracks_the_reference(tracking_env, start):
    env, _, step = tracking_env
    state = step(start, _reference_actions(env, start))
    assert set(state.metrics) == set(env.metric_names)
    for name, value in state.metrics.items():
        assert value.shape == (B,) and np.all(np.isfinite(np.asarray(value))), name
    for name in env.observation_size:
        assert np.all(np.isfinite(np.asarray(state.obs[name])))
    assert np.all(np.asarray(state.metrics["termination/any"]) == 0)
    # PD towards the reference keeps the robot on it for a step.
    assert np.asarray(state.metrics["error/keypoint"]).max() < 0.05
    assert np.asarray(state.metrics["reward_raw/keypoint"]).min() > 0.9
    weighted = sum(np.asarray(state.metrics[f"reward/{t}"]) for t in ("keypoint", "root_pos", "root_ori", "joint_pos", "joint_vel",
                                                                         "body_lin_vel", "body_ang_vel", "action_rate", "torque",
                                                                         "joint_limit", "undesired_contacts", "termination"))
    np.testing.assert_allclose(np.asarray(state.reward), weighted, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state.metrics["reward/keypoint"]), np.asarray(state.metrics["reward_raw/keypoint"]) * env.config.rewards.keypoint, rtol=1e-6)
    assert np.all(np.asarray(state.info["steps"]) == 1)


def test_termination_on_fall_and_auto_reset(tracking_env, start):
    env, _, step = tracking_env
    qpos = np.array(start.data.qpos)
    tipped = quat_multiply(axis_angle_to_quat(jnp.array([np.pi / 2, 0.0, 0.0])), jnp.asarray(qpos[0, 3:7]))
    qpos[0, 3:7] = np.asarray(tipped)
    state = step(_with(start, qpos=jnp.asarray(qpos)), _reference_actions(env, start))
    assert float(state.terminated[0]) == 1.0 and float(state.truncated[0]) == 0.0
    assert float(state.metrics["termination/tilt"][0]) == 1.0
    assert float(state.metrics["reward/termination"][0]) == pytest.approx(env.config.rewards.termination)
    assert np.all(np.asarray(state.terminated[1:]) == 0)
    # Auto-reset: env 0 starts a new episode, its last observation is kept in final_obs.
    assert int(state.info["steps"][0]) == 0 and np.all(np.asarray(state.info["steps"][1:]) == 1)
    assert not np.allclose(np.asarray(state.final_obs["critic"][0]), np.asarray(state.obs["critic"][0]))
    np.testing.assert_array_equal(np.asarray(state.final_obs["critic"][1:]), np.asarray(state.obs["critic"][1:]))
    upright = np.asarray(state.data.qpos[0, 3:7])
    assert 1 - 2 * (upright[1] ** 2 + upright[2] ** 2) > 0.9  # the new episode stands on a reference frame


def test_termination_on_keypoint_drift(tracking_env, start):
    env, _, step = tracking_env
    qpos = np.array(start.data.qpos)
    shoulder = 7 + env.robot.joint_names.index("left_shoulder_pitch_joint")
    qpos[1, shoulder] = -2.6  # left arm swung up and forward: the wrist is far from its goal
    state = step(_with(start, qpos=jnp.asarray(qpos)), _reference_actions(env, start))
    assert float(state.metrics["termination/keypoint_drift"][1]) == 1.0
    assert float(state.metrics["termination/root_height"][1]) == 0.0 and float(state.metrics["termination/tilt"][1]) == 0.0
    assert float(state.terminated[1]) == 1.0


def test_truncation_at_episode_limit_and_clip_end(tracking_env, start):
    env, _, step = tracking_env
    steps = np.array(start.info["steps"])
    steps[2] = env.max_steps - 1
    times = np.array(start.info["time"])
    duration = np.asarray(env.library.clip_duration)[np.asarray(start.info["clip"])]
    times[3] = duration[3] - 0.5 * env.dt
    state = step(_with(start, steps=jnp.asarray(steps), time=jnp.asarray(times)), _reference_actions(env, start))
    np.testing.assert_array_equal(np.asarray(state.truncated), [0, 0, 1, 1])
    np.testing.assert_array_equal(np.asarray(state.terminated), [0, 0, 0, 0])
    assert float(state.metrics["truncation/time_limit"][2]) == 1.0 and float(state.metrics["truncation/clip_end"][3]) == 1.0
    np.testing.assert_array_equal(np.asarray(state.info["steps"]), [1, 1, 0, 0])
    assert np.all(np.isfinite(np.asarray(state.final_obs["critic"])))


def test_a_robot_without_actions_falls_and_is_reset(tracking_env, start):
    """Zero actions hold the default pose with soft gains: the robot leaves the reference and the
    episode ends by termination; everything stays finite and the envs restart."""
    env, _, step = tracking_env
    state, ended = start, np.zeros(B, bool)
    zeros = jnp.zeros((B, env.action_size))
    for _ in range(150):
        state = step(state, zeros)
        ended |= np.asarray(state.terminated) > 0
        assert np.all(np.isfinite(np.asarray(state.obs["critic"])))
    assert ended.any()
    assert np.all(np.asarray(state.info["steps"]) < 150)


def test_randomisation_is_per_env_and_off_in_evaluation(tracking_env, eval_tracking_env, start):
    env = tracking_env[0]
    params = jax.tree.map(np.asarray, start.info["params"])
    assert np.unique(params.friction).size == B
    assert np.unique(params.kp_scale[:, 0]).size == B
    assert not np.allclose(np.asarray(start.obs["teacher"]), np.asarray(start.obs["critic"]))  # sensor noise
    eval_env, reset_to = eval_tracking_env
    state = reset_to(jax.random.split(jax.random.key(2), B), jnp.zeros(B, jnp.int32), jnp.full(B, 0.5))
    p = jax.tree.map(np.asarray, state.info["params"])
    assert np.all(p.friction == 1.0) and np.all(p.kp_scale == 1.0) and np.all(p.mass_scale == 1.0)
    assert np.all(p.joint_offset == 0.0) and np.all(p.action_delay == 0)
    np.testing.assert_array_equal(np.asarray(state.obs["teacher"]), np.asarray(state.obs["critic"]))
    # Same clip and time, different keys: identical observations without noise.
    student = np.asarray(state.obs["student"])
    np.testing.assert_allclose(student[0], student[1], atol=1e-6)
    assert env.config.randomization.enabled and not eval_env.config.randomization.enabled


def test_observations_are_invariant_to_where_the_motion_happens(eval_tracking_env):
    """Moving and turning (about z) the robot together with its reference changes no observation."""
    env, _ = eval_tracking_env
    from mimicjax.envs import randomization as rand_lib
    from mimicjax.math.rotations import quat_rotate

    turn = axis_angle_to_quat(jnp.array([0.0, 0.0, 2.1]))
    shift = jnp.array([3.0, -1.5, 0.0])

    def observe(moved: bool):
        future = env._sample_reference(jnp.int32(1), jnp.float32(0.8))
        if moved:
            rot = lambda v: quat_rotate(jnp.broadcast_to(turn, v.shape[:-1] + (4,)), v)  # noqa: E731
            future = future.replace(
                root_pos=rot(future.root_pos) + shift,
                root_quat=quat_multiply(jnp.broadcast_to(turn, future.root_quat.shape), future.root_quat),
                root_lin_vel=rot(future.root_lin_vel),
                root_ang_vel=rot(future.root_ang_vel),
                keypoint_pos=rot(future.keypoint_pos) + shift,
                keypoint_vel=rot(future.keypoint_vel),
            )
        qpos, qvel = obs_lib.reference_qpos_qvel(jax.tree.map(lambda x: x[0], future))
        robot = obs_lib.robot_body_state(env.tree, qpos, qvel)
        params = rand_lib.nominal(len(env.tree.parents), env.action_size)
        obs, _ = env._observe(robot, future, jnp.zeros(env.action_size), params, None, jnp.zeros(env._noise_size))
        return obs

    here, there = jax.jit(lambda: (observe(False), observe(True)))()
    for name in ("critic", "student"):
        np.testing.assert_allclose(np.asarray(there[name]), np.asarray(here[name]), atol=2e-4, err_msg=name)


def test_the_student_needs_no_global_position_or_yaw(eval_tracking_env):
    """Deployable: moving and turning the robot alone (about z), the reference left where it is, changes
    nothing the student sees (the teacher's robot-relative goals do change)."""
    env, _ = eval_tracking_env
    from mimicjax.envs import randomization as rand_lib
    from mimicjax.math.rotations import quat_rotate

    turn = axis_angle_to_quat(jnp.array([0.0, 0.0, -1.3]))
    shift = jnp.array([-2.0, 4.0, 0.0])

    def observe(moved: bool):
        future = env._sample_reference(jnp.int32(0), jnp.float32(1.1))
        qpos, qvel = obs_lib.reference_qpos_qvel(jax.tree.map(lambda x: x[0], future))
        qpos = qpos.at[7:].add(0.05)  # the robot is not exactly on the reference
        if moved:
            qpos = qpos.at[:3].set(quat_rotate(turn, qpos[:3]) + shift).at[3:7].set(quat_multiply(turn, qpos[3:7]))
            qvel = qvel.at[:3].set(quat_rotate(turn, qvel[:3]))  # angular velocity is in the pelvis frame
        robot = obs_lib.robot_body_state(env.tree, qpos, qvel)
        params = rand_lib.nominal(len(env.tree.parents), env.action_size)
        obs, _ = env._observe(robot, future, jnp.zeros(env.action_size), params, None, jnp.zeros(env._noise_size))
        return obs

    here, there = jax.jit(lambda: (observe(False), observe(True)))()
    np.testing.assert_allclose(np.asarray(there["student"]), np.asarray(here["student"]), atol=2e-4)
    assert not np.allclose(np.asarray(there["teacher"]), np.asarray(here["teacher"]), atol=1e-2)
    layout = obs_lib.unflatten(env.student_layout, here["student"])
    assert set(obs_lib.STUDENT_GOAL_BLOCKS) <= set(layout)


def test_delayed_envs_start_from_the_reference_action(tracking_env, start):
    """At reset the delay buffer and the previous action hold the action of the reference pose, so an env
    whose actions arrive a step late keeps its start pose instead of jolting to the default pose."""
    env, _, step = tracking_env
    frame = sample(env.library, start.info["clip"], start.info["time"])
    held = np.asarray((frame.joint_pos - env.default_pose) / env.action_scale)
    buffer = np.asarray(start.info["action_buffer"])
    assert buffer.shape == (B, env.config.randomization.max_action_delay + 1, env.action_size)
    np.testing.assert_allclose(buffer, np.broadcast_to(held[:, None], buffer.shape), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(start.info["last_action"]), held, rtol=1e-5, atol=1e-5)

    params = start.info["params"].replace(action_delay=jnp.ones(B, jnp.int32), joint_offset=jnp.zeros_like(start.info["params"].joint_offset))
    delayed = _with(start, params=params, push_countdown=jnp.full(B, 1e9))
    reference = sample(env.library, start.info["clip"], start.info["time"] + env.dt)

    def joint_error(buffer):
        after = step(_with(delayed, action_buffer=buffer), _reference_actions(env, delayed))
        return np.abs(np.asarray(after.data.qpos[:, 7:]) - np.asarray(reference.joint_pos)).mean()

    held_error = joint_error(delayed.info["action_buffer"])
    default_error = joint_error(jnp.zeros_like(delayed.info["action_buffer"]))  # a buffer of default-pose actions
    assert held_error < 0.75 * default_error, (held_error, default_error)
