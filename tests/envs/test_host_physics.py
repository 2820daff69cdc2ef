"""The C-engine backend (`sim.impl="c"`): a plain MuJoCo loop's transitions, batched through vmap.

That MJX and MuJoCo's C engine agree is `tests/envs/test_sim.py::test_mjx_agrees_with_mujoco_c` (and the
self-collision count, `test_self_collisions_are_counted_alike_by_mjx_and_the_c_engine` there); here the
callback is checked against MuJoCo itself, which costs no MJX compile.
"""

import dataclasses

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mimicjax.envs import sim as sim_lib
from mimicjax import robots

CONTROL_STEPS = 10
ROBOT = robots.get("g1_23dof")
CONFIG = sim_lib.SimConfig(impl="c", threads=2)


@pytest.fixture(scope="module")
def c_sim():
    return sim_lib.make_sim(ROBOT, CONFIG)


def crossed_legs_qpos(sim):
    """The stand pose with both hips rolled inwards to their limit: the thighs overlap."""
    qpos = np.array(sim.default_qpos)
    qpos[7 + 1], qpos[7 + 7] = -0.5236, 0.5236  # left and right hip roll
    return jnp.asarray(qpos)


def start_states(sim):
    """Env 0 with crossed legs, env 1 standing, envs 2-4 with perturbed joints; their PD targets."""
    noise = jax.random.uniform(jax.random.key(0), (3, sim.default_ctrl.shape[0]), minval=-0.1, maxval=0.1)
    qpos = jnp.concatenate([crossed_legs_qpos(sim)[None], sim.default_qpos[None], jnp.tile(sim.default_qpos, (3, 1)).at[:, 7:].add(noise)])
    return qpos, qpos[:, 7:].at[2:].add(0.2 * noise[::-1])


def run(sim, qpos_batch, targets, steps=CONTROL_STEPS):
    """Data after every control step, from one compiled step."""
    data = jax.vmap(sim_lib.set_state, in_axes=(None, 0, 0))(sim, sim_lib.initial_data(sim, qpos_batch.shape[0]), qpos_batch)
    step = jax.jit(jax.vmap(lambda d, t: sim_lib.step(sim, d, t)))
    history = []
    for _ in range(steps):
        data = step(data, targets)
        history.append(data)
    return history


def mujoco_loop(mj_model, qpos, ctrl, control_steps, substeps):
    """The reference: one MjData stepped by MuJoCo, the state kept in float32 between control steps
    as the JAX side keeps it."""
    d = mujoco.MjData(mj_model)
    out = []
    qpos, qvel, warmstart = np.asarray(qpos, np.float32), np.zeros(mj_model.nv, np.float32), np.zeros(mj_model.nv, np.float32)
    for _ in range(control_steps):
        d.qpos[:], d.qvel[:], d.ctrl[:], d.qacc_warmstart[:] = qpos, qvel, ctrl, warmstart
        for _ in range(substeps):
            mujoco.mj_step(mj_model, d)
        qpos, qvel, warmstart = (np.asarray(x, np.float32) for x in (d.qpos, d.qvel, d.qacc_warmstart))
        robot_geom = mj_model.geom_bodyid != 0
        contacts = sum(1 for c in d.contact[: d.ncon] if robot_geom[c.geom[0]] and robot_geom[c.geom[1]] and c.dist < 0)
        out.append((qpos.copy(), qvel.copy(), np.asarray(d.actuator_force, np.float32), contacts))
    return out


def test_c_engine_steps_as_mujoco_does(c_sim):
    sim, mj_model = c_sim
    qpos, targets = start_states(sim)
    history = run(sim, qpos, np.clip(targets, sim.ctrl_low, sim.ctrl_high))
    for env in range(qpos.shape[0]):
        expected = mujoco_loop(mj_model, qpos[env], np.clip(targets[env], sim.ctrl_low, sim.ctrl_high), CONTROL_STEPS, sim.substeps)
        for data, (e_qpos, e_qvel, e_force, e_contacts) in zip(history, expected):
            np.testing.assert_allclose(data.qpos[env], e_qpos, atol=1e-5)
            np.testing.assert_allclose(data.qvel[env], e_qvel, atol=1e-3)
            np.testing.assert_allclose(data.actuator_force[env], e_force, rtol=1e-4, atol=1e-3)
            assert float(data.self_contacts[env]) == e_contacts
    assert float(history[0].self_contacts[0]) >= 1 and float(history[0].self_contacts[1]) == 0
    np.testing.assert_allclose(history[-1].time, CONTROL_STEPS * sim.control_dt, atol=1e-5)
    assert not np.allclose(history[-1].qpos[2:], qpos[2:], atol=1e-3)  # it moved


def test_thread_count_does_not_change_the_result(c_sim):
    sim, _ = c_sim
    one_thread, _ = sim_lib.make_sim(ROBOT, dataclasses.replace(CONFIG, threads=1))
    qpos = jnp.tile(sim.default_qpos, (5, 1)).at[:, 7:].add(0.05)
    a, b = run(sim, qpos, qpos[:, 7:], steps=3)[-1], run(one_thread, qpos, qpos[:, 7:], steps=3)[-1]
    for field in ("qpos", "qvel", "actuator_force", "qacc_warmstart"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_one_env_without_vmap(c_sim):
    sim, _ = c_sim
    data = sim_lib.set_state(sim, jax.tree.map(lambda x: x[0], sim_lib.initial_data(sim, 1)), sim.default_qpos)
    out = jax.jit(lambda d: sim_lib.step(sim, d, sim.default_ctrl))(data)
    assert out.qpos.shape == sim.default_qpos.shape
    assert float(out.time) == pytest.approx(sim.control_dt)


def test_limits_are_clear_errors(c_sim, tracking_library):
    from mimicjax.envs.tracking import TrackingConfig, TrackingEnv

    with pytest.raises(ValueError, match="sim.threads .* needs sim.impl='c'"):
        sim_lib.make_sim(robots.get("g1_23dof"), sim_lib.SimConfig(impl="jax", threads=2))
    with pytest.raises(ValueError, match="sim.threads must be >= 1"):
        sim_lib.make_sim(robots.get("g1_23dof"), sim_lib.SimConfig(impl="c", threads=0))
    with pytest.raises(ValueError, match="scale_pd_gains"):
        sim_lib.scale_pd_gains(c_sim[0], 1.1)
    config = TrackingConfig(robot="g1_29dof", sim=sim_lib.SimConfig(impl="c"))
    with pytest.raises(ValueError, match="env.randomization.enabled=False"):
        TrackingEnv(config, tracking_library)
