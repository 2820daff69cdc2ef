"""The MJX simulation core: batched reset and PD step, stability, agreement with MuJoCo's C engine."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mimicjax.envs import sim as sim_lib
from mimicjax import robots

BATCH = 64
CHUNK = 25  # control steps per jitted call: 0.5 s of sim time
# A free-standing G1 is an inverted pendulum on its ankles: at the 10 Hz training gains the ankles
# (2 x 28.5 N m/rad) are far softer than gravity's toppling stiffness (about m g h = 190 N m/rad), so
# only a balance policy keeps it up. Holding a pose with PD alone needs about 30 Hz.
STAND_FREQUENCY_SCALE = 3.0


@pytest.fixture(scope="module")
def stand_rollout(g1_sim):
    """64 robots holding the stand pose under PD for 5 s; states after each 0.5 s chunk."""
    sim, _ = g1_sim
    stiff = sim_lib.scale_pd_gains(sim, STAND_FREQUENCY_SCALE)
    data = sim_lib.reset(sim, jax.random.key(0), BATCH, joint_noise=0.05)
    targets = jnp.broadcast_to(sim.default_ctrl, (BATCH, sim.default_ctrl.shape[0]))
    states = [data]
    for _ in range(sim_lib.control_steps_for(sim, 5.0) // CHUNK):
        states.append(sim_lib.hold_jit(stiff, states[-1], targets, CHUNK))
    return stiff, states


def test_64_robots_hold_the_stand_pose_for_5_seconds(stand_rollout):
    sim, states = stand_rollout
    start_height = np.asarray(states[0].qpos[:, 2])
    assert float(states[-1].time[0]) == pytest.approx(5.0, abs=1e-3)
    for data in states[1:]:
        assert not bool(sim_lib.has_nan(data))
        height = np.asarray(data.qpos[:, 2])
        assert np.abs(height - start_height).max() < 0.05, "a pelvis moved more than 5 cm"
    # Upright: the pelvis z axis stays within 10 degrees of vertical.
    quat = np.asarray(states[-1].qpos[:, 3:7])
    up_z = 1 - 2 * (quat[:, 1] ** 2 + quat[:, 2] ** 2)
    assert up_z.min() > np.cos(np.radians(10))


def test_mjx_agrees_with_mujoco_c(stand_rollout, g1_sim):
    """Env 0 after 0.5 s in MJX (float32) matches MuJoCo's C engine (float64) from the same state."""
    sim, states = stand_rollout
    _, mj_model = g1_sim
    mj_model = sim_lib.load_mj_model(robots.get("g1_29dof"), sim_lib.SimConfig())
    mj_model.actuator_gainprm[:] = np.asarray(sim.model.actuator_gainprm)
    mj_model.actuator_biasprm[:] = np.asarray(sim.model.actuator_biasprm)
    data = mujoco.MjData(mj_model)
    data.qpos[:] = np.asarray(states[0].qpos[0])
    data.ctrl[:] = mj_model.key("stand").ctrl
    for _ in range(CHUNK * sim.substeps):
        mujoco.mj_step(mj_model, data)
    np.testing.assert_allclose(np.asarray(states[1].qpos[0]), data.qpos, atol=5e-3)


def test_reset_places_a_batch_at_the_stand_pose(g1_sim):
    sim, mj_model = g1_sim
    data = sim_lib.reset(sim, jax.random.key(1), 8, joint_noise=0.1)
    assert data.qpos.shape == (8, mj_model.nq) and data.qvel.shape == (8, mj_model.nv)
    offsets = np.asarray(data.qpos[:, 7:] - sim.default_qpos[7:])
    assert 0 < np.abs(offsets).max() <= 0.1 + 1e-6
    assert np.unique(offsets[:, 0]).size == 8  # each env draws its own noise
    np.testing.assert_allclose(np.asarray(data.qpos[:, :7]), np.tile(mj_model.key("stand").qpos[:7], (8, 1)))
    # Body poses are computed: the pelvis body is where qpos puts it.
    np.testing.assert_allclose(np.asarray(data.xpos[:, 1]), np.asarray(data.qpos[:, :3]), atol=1e-6)


def test_step_advances_one_control_period_and_clips_targets(g1_sim):
    sim, _ = g1_sim
    data = sim_lib.reset(sim, jax.random.key(2), 2)
    wild = jnp.full((2, sim.default_ctrl.shape[0]), 100.0, jnp.float32)  # not weakly typed: one program with the test below
    stepped = jax.jit(sim_lib.batched_step)(sim, data, wild)
    np.testing.assert_allclose(np.asarray(stepped.time), 1.0 / 50.0, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(stepped.ctrl), np.broadcast_to(np.asarray(sim.ctrl_high), (2, 29)))


def test_pd_gain_scaling_keeps_the_damping_ratio(g1_sim):
    sim, mj_model = g1_sim
    scaled = sim_lib.scale_pd_gains(sim, 2.0)
    np.testing.assert_allclose(np.asarray(scaled.model.actuator_gainprm[:, 0]), 4 * mj_model.actuator_gainprm[:, 0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(scaled.model.actuator_biasprm[:, 2]), 2 * mj_model.actuator_biasprm[:, 2], rtol=1e-6)


def test_bad_sim_configs_are_clear_errors():
    with pytest.raises(ValueError, match="physics_hz .* whole multiple of sim.control_hz"):
        sim_lib.load_mj_model(robots.get("g1_29dof"), sim_lib.SimConfig(physics_hz=210.0))
    with pytest.raises(ValueError, match="sim.impl must be 'auto', 'jax', 'warp' or 'c'"):
        sim_lib.resolve_impl("cuda")
    with pytest.raises(ValueError, match="unknown robot 'g1_31dof'; choose one of .*g1_29dof"):
        robots.get("g1_31dof")


def test_solver_override_reaches_the_model():
    assert sim_lib.load_mj_model(robots.get("g1_29dof"), sim_lib.SimConfig()).opt.solver == mujoco.mjtSolver.mjSOL_NEWTON
    cg = sim_lib.load_mj_model(robots.get("g1_29dof"), sim_lib.SimConfig(solver="cg", solver_iterations=7))
    assert cg.opt.solver == mujoco.mjtSolver.mjSOL_CG and cg.opt.iterations == 7
    with pytest.raises(ValueError, match="sim.solver must be one of"):
        sim_lib.load_mj_model(robots.get("g1_29dof"), sim_lib.SimConfig(solver="pgs"))


def test_auto_backend_is_jax_without_a_gpu():
    if jax.default_backend() == "gpu":
        pytest.skip("this check is for machines without a GPU")
    assert sim_lib.resolve_impl("auto") == "jax"


def test_self_collisions_are_counted_alike_by_mjx_and_the_c_engine(g1_sim):
    """Crossed legs (thighs pressed together) and the stand pose, one physics step in each engine."""
    sim, _ = g1_sim
    c_sim, _ = sim_lib.make_sim(robots.get("g1_29dof"), sim_lib.SimConfig(impl="c", threads=1))
    crossed = np.array(sim.default_qpos)
    crossed[7 + 1], crossed[7 + 7] = -0.5236, 0.5236  # left and right hip roll at their inward limits
    qpos = jnp.stack([jnp.asarray(crossed), sim.default_qpos])
    counts = []
    for engine in (sim, c_sim):
        # Inputs typed as in the step test above, so its compiled program serves (the step recomputes
        # poses from qpos).
        data = sim_lib.reset(engine, jax.random.key(2), 2).replace(qpos=qpos)
        stepped = jax.jit(sim_lib.batched_step)(engine, data, qpos[:, 7:])
        counts.append(np.asarray(jax.vmap(lambda d, e=engine: sim_lib.self_contacts(e, d))(stepped)))
    assert counts[0][0] >= 1 and counts[0][1] == 0
    np.testing.assert_array_equal(counts[1], counts[0])
