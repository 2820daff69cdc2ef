"""`unroll`, the one rollout scan: the same steps as a plain Python loop over `vmap(env.step)`, one key per
step, a carry advanced after every step, and next-start injection."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.envs.base import Env, State
from mimicjax.rl.unroll import step_envs, unroll
from tests.rl.toy_env import PointMassEnv

ENV = PointMassEnv(max_steps=5)
NUM_ENVS, STEPS = 3, 12


def toward_goal(state, key):
    """A deterministic controller (ignores its key) whose output is also handed to the record."""
    action = 0.5 * state.obs["actor"][:, :2]
    return action, {"gain": jnp.full(action.shape[:1], 0.5)}


def transition(state, action, extras, next_state):
    return {"obs": state.obs["actor"], "action": action, "gain": extras["gain"], "reward": next_state.reward,
            "done": next_state.done}


def initial_state():
    return jax.vmap(ENV.reset)(jax.random.split(jax.random.key(0), NUM_ENVS))


def test_unroll_takes_the_steps_of_a_python_loop():
    state = initial_state()
    out = jax.jit(lambda s: unroll(ENV, s, toward_goal, None, STEPS, record_fn=transition))(state)

    step = jax.jit(jax.vmap(ENV.step))
    expected = []
    for _ in range(STEPS):
        action, extras = toward_goal(state, None)
        next_state = step(state, action)
        expected.append(transition(state, action, extras, next_state))
        state = next_state
    expected = jax.tree.map(lambda *xs: np.stack(xs), *expected)

    assert out.records["obs"].shape == (STEPS, NUM_ENVS, 4)
    assert float(np.sum(out.records["done"])) > 0  # episodes of 5 steps ended and auto-reset inside the unroll
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), out.records, expected)
    np.testing.assert_allclose(out.state.obs["actor"], state.obs["actor"], rtol=1e-6, atol=1e-6)
    assert out.carry is None


def test_step_t_gets_the_t_th_split_of_the_key():
    def keyed(state, key):
        return jnp.zeros((NUM_ENVS, ENV.action_size)), jax.random.key_data(key)

    out = unroll(ENV, initial_state(), keyed, jax.random.key(3), STEPS, record_fn=lambda s, a, key, n: key)
    np.testing.assert_array_equal(out.records, jax.random.key_data(jax.random.split(jax.random.key(3), STEPS)))


def test_carry_is_advanced_after_every_step_and_records_are_optional():
    def advance(carry, state, next_state):
        return {"steps": carry["steps"] + 1, "reward": carry["reward"] + jnp.sum(next_state.reward),
                "before": state.obs["actor"]}

    carry = {"steps": jnp.int32(0), "reward": jnp.float32(0), "before": jnp.zeros((NUM_ENVS, 4))}
    state = initial_state()
    out = unroll(ENV, state, toward_goal, None, STEPS, carry=carry, advance_fn=advance)
    recorded = unroll(ENV, state, toward_goal, None, STEPS, record_fn=transition)
    assert out.records is None
    assert int(out.carry["steps"]) == STEPS
    np.testing.assert_allclose(out.carry["reward"], np.sum(recorded.records["reward"]), rtol=1e-5)
    np.testing.assert_array_equal(out.carry["before"], recorded.records["obs"][-1])  # the state before the step


@dataclasses.dataclass(frozen=True)
class StartEcho(Env):
    """Every step ends an episode; the next one starts where `info["next_start"]` says (0 without one)."""

    @property
    def observation_size(self):
        return {"actor": 1, "critic": 1}

    @property
    def action_size(self):
        return 1

    def reset(self, rng):
        zero = jnp.zeros(())
        obs = {"actor": zero[None], "critic": zero[None]}
        return State(zero, obs, zero, zero, jnp.ones(()), obs, {}, {})

    def step(self, state, action):
        start = state.info.get("next_start", jnp.zeros(()))
        obs = {"actor": start[None], "critic": start[None]}
        return state.replace(data=start, obs=obs, final_obs=state.obs)


def test_next_starts_reach_the_step_and_leave_no_trace():
    env = StartEcho()
    state = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), NUM_ENVS))
    starts = jnp.arange(STEPS * NUM_ENVS, dtype=jnp.float32).reshape(STEPS, NUM_ENVS)
    out = unroll(env, state, lambda s, k: (jnp.zeros((NUM_ENVS, 1)), None), None, STEPS,
                 record_fn=lambda s, a, e, n: n.data, next_starts=starts)
    np.testing.assert_array_equal(out.records, starts)
    assert "next_start" not in out.state.info
    assert "next_start" not in step_envs(env, state, jnp.zeros((NUM_ENVS, 1)), starts[0]).info
