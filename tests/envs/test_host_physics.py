"""The C-engine backend (`sim.impl="c"`): same transitions as MJX, batched through vmap, clear limits."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.envs import sim as sim_lib

CONTROL_STEPS = 10


@pytest.fixture(scope="module")
def sims():
    """The 23-DoF G1 for MJX and for the C engine (two worker threads), from one config."""
    config = sim_lib.SimConfig(variant="23dof", impl="jax")
    mjx_sim, _ = sim_lib.make_sim(config)
    c_sim, _ = sim_lib.make_sim(dataclasses.replace(config, impl="c", threads=2))
    return mjx_sim, c_sim


def crossed_legs_qpos(sim):
    """The stand pose with both hips rolled inwards to their limit: the thighs overlap."""
    qpos = np.array(sim.default_qpos)
    qpos[7 + 1], qpos[7 + 7] = -0.5236, 0.5236  # left and right hip roll
    return jnp.asarray(qpos)


def run(sim, qpos_batch, targets, steps=CONTROL_STEPS):
    """Data after 1 and after `steps` control steps, from one compiled step."""
    data = jax.vmap(sim_lib.set_state, in_axes=(None, 0, 0))(sim, sim_lib.initial_data(sim, qpos_batch.shape[0]), qpos_batch)
    step = jax.jit(jax.vmap(lambda d, t: sim_lib.step(sim, d, t)))
    first = data = step(data, targets)
    for _ in range(steps - 1):
        data = step(data, targets)
    return first, data


@pytest.fixture(scope="module")
def rollouts(sims):
    """Both engines from the same states: env 0 with crossed legs, env 1 standing, 2-5 perturbed."""
    mjx_sim = sims[0]
    noise = jax.random.uniform(jax.random.key(0), (4, mjx_sim.default_ctrl.shape[0]), minval=-0.1, maxval=0.1)
    qpos = jnp.concatenate([crossed_legs_qpos(mjx_sim)[None], mjx_sim.default_qpos[None],
                            jnp.tile(mjx_sim.default_qpos, (4, 1)).at[:, 7:].add(noise)])
    targets = qpos[:, 7:].at[2:].add(0.2 * noise[::-1])
    return qpos, [run(sim, qpos, targets) for sim in sims]


def test_c_engine_gives_mjx_transitions_within_physics_tolerance(rollouts):
    qpos, ((_, expected), (_, got)) = rollouts
    # Env 0 (legs pressed together, symmetric) is unstable: which way it falls is up to rounding.
    qpos, expected, got = qpos[1:], jax.tree.map(lambda x: x[1:], expected), jax.tree.map(lambda x: x[1:], got)
    # float32 MJX against float64 C through contacts, after 0.2 s of robots landing and swaying: within
    # 0.6 degrees, and velocities and forces within a tenth of their largest value (1 % on average).
    np.testing.assert_allclose(got.qpos, expected.qpos, atol=1e-2)
    for field in ("qvel", "actuator_force"):
        a, b = np.asarray(getattr(got, field)), np.asarray(getattr(expected, field))
        scale = np.abs(b).max()
        assert np.abs(a - b).max() <= 0.1 * scale, field
        assert np.abs(a - b).mean() <= 0.01 * scale, field
    np.testing.assert_allclose(got.time, expected.time, atol=1e-5)
    assert not np.allclose(got.qpos, qpos, atol=1e-3)  # it moved


def test_self_collisions_are_counted_alike(rollouts, sims):
    _, ((mjx_first, _), (c_first, _)) = rollouts
    counts = [np.asarray(jax.vmap(lambda d, s=s: sim_lib.self_contacts(s, d))(first)) for s, first in zip(sims, (mjx_first, c_first))]
    assert counts[0][0] >= 1 and counts[0][1] == 0
    np.testing.assert_array_equal(counts[1], counts[0])


def test_thread_count_does_not_change_the_result(sims):
    _, c_sim = sims
    one_thread, _ = sim_lib.make_sim(sim_lib.SimConfig(variant="23dof", impl="c", threads=1))
    qpos = jnp.tile(c_sim.default_qpos, (5, 1)).at[:, 7:].add(0.05)
    (_, a), (_, b) = run(c_sim, qpos, qpos[:, 7:], steps=3), run(one_thread, qpos, qpos[:, 7:], steps=3)
    for field in ("qpos", "qvel", "actuator_force", "qacc_warmstart"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_one_env_without_vmap(sims):
    _, c_sim = sims
    data = sim_lib.set_state(c_sim, jax.tree.map(lambda x: x[0], sim_lib.initial_data(c_sim, 1)), c_sim.default_qpos)
    out = jax.jit(lambda d: sim_lib.step(c_sim, d, c_sim.default_ctrl))(data)
    assert out.qpos.shape == c_sim.default_qpos.shape
    assert float(out.time) == pytest.approx(c_sim.control_dt)


def test_limits_are_clear_errors(sims, tracking_library):
    from mimicjax.envs.tracking import TrackingConfig, TrackingEnv

    with pytest.raises(ValueError, match="sim.threads .* needs sim.impl='c'"):
        sim_lib.make_sim(sim_lib.SimConfig(variant="23dof", impl="jax", threads=2))
    with pytest.raises(ValueError, match="sim.threads must be >= 1"):
        sim_lib.make_sim(sim_lib.SimConfig(variant="23dof", impl="c", threads=0))
    with pytest.raises(ValueError, match="scale_pd_gains"):
        sim_lib.scale_pd_gains(sims[1], 1.1)
    config = TrackingConfig(sim=sim_lib.SimConfig(variant="29dof", impl="c"))
    with pytest.raises(ValueError, match="env.randomization.enabled=False"):
        TrackingEnv(config, tracking_library)
