"""Collecting PPO rollouts from any `Env`, and the jitted training iteration built on it.

A training loop needs two pytrees, `TrainState` and `RolloutState`, and one function:

    iteration = make_ppo_iteration(env, ppo_config, num_steps, symmetry)
    train_state, rollout_state, metrics = iteration(train_state, rollout_state)

`metrics` is a flat dict of scalars with "/"-separated names, ready for `RunLogger.scalars`.
Envs are the leading axis of `rollout_state`; shard it over the mesh's data axis and the same code
runs on several devices.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

from mimicjax.envs.base import Env, State
from mimicjax.rl import networks as nets
from mimicjax.rl import ppo
from mimicjax.rl.ppo import PPOConfig, Rollout, TrainState
from mimicjax.rl.symmetry import Symmetry


@struct.dataclass
class RolloutState:
    env_state: State  # batched over envs
    episode_return: jax.Array  # [N]: undiscounted return of each env's current episode so far
    episode_length: jax.Array  # [N] int32


def init_rollout_state(env: Env, rng: jax.Array, num_envs: int) -> RolloutState:
    env_state = jax.jit(jax.vmap(env.reset))(jax.random.split(rng, num_envs))
    return RolloutState(
        env_state=env_state,
        episode_return=jnp.zeros((num_envs,), jnp.float32),
        episode_length=jnp.zeros((num_envs,), jnp.int32),
    )


def collect_rollout(
    env: Env, train_state: TrainState, rollout_state: RolloutState, num_steps: int
) -> tuple[TrainState, RolloutState, Rollout, dict[str, jax.Array]]:
    """Step every env `num_steps` times with actions sampled from the current policy.

    Returns the train state (its RNG advanced), the rollout state to continue from, the time-major
    `Rollout`, and metrics: the env's own metrics averaged over steps and envs ("env/<name>"), the mean
    reward per step, and episodes finished during the rollout ("episode/return", "episode/length",
    "episode/count", "episode/termination_rate"; NaN when no episode finished).
    """
    rng, rollout_rng = jax.random.split(train_state.rng)
    train_state = train_state.replace(rng=rng)

    def step(carry, step_rng):
        state, totals = carry
        obs = state.env_state.obs
        mean, log_std = ppo.action_distribution(train_state, obs["actor"])
        action = nets.sample(step_rng, mean, log_std)
        values = ppo.value(train_state, obs["critic"])
        next_env_state = jax.vmap(env.step)(state.env_state, action)
        final_values = ppo.value(train_state, next_env_state.final_obs["critic"])

        done = next_env_state.done
        episode_return = state.episode_return + next_env_state.reward
        episode_length = state.episode_length + 1
        totals = {
            "return": totals["return"] + jnp.sum(done * episode_return),
            "length": totals["length"] + jnp.sum(done * episode_length),
            "count": totals["count"] + jnp.sum(done),
            "terminated": totals["terminated"] + jnp.sum(next_env_state.terminated),
        }
        next_state = RolloutState(
            env_state=next_env_state,
            episode_return=jnp.where(done > 0, 0.0, episode_return),
            episode_length=jnp.where(done > 0, 0, episode_length),
        )
        transition = Rollout(
            actor_obs=obs["actor"],
            critic_obs=obs["critic"],
            actions=action,
            rewards=next_env_state.reward,
            terminated=next_env_state.terminated,
            truncated=next_env_state.truncated,
            values=values,
            final_values=final_values,
            last_values=values,  # replaced below by V of the observation after the last step
        )
        env_metrics = jax.tree.map(jnp.mean, next_env_state.metrics)
        return (next_state, totals), (transition, env_metrics)

    zero = jnp.zeros((), jnp.float32)
    totals = {"return": zero, "length": zero, "count": zero, "terminated": zero}
    (rollout_state, totals), (rollout, env_metrics) = jax.lax.scan(
        step, (rollout_state, totals), jax.random.split(rollout_rng, num_steps)
    )
    rollout = rollout.replace(last_values=ppo.value(train_state, rollout_state.env_state.obs["critic"]))

    count = totals["count"]

    def per_episode(total):
        return jnp.where(count > 0, total / jnp.maximum(count, 1.0), jnp.nan)

    metrics = {f"env/{name}": jnp.mean(values) for name, values in env_metrics.items()}
    metrics.update({
        "reward/mean": jnp.mean(rollout.rewards),
        "episode/return": per_episode(totals["return"]),
        "episode/length": per_episode(totals["length"]),
        "episode/count": count,
        "episode/termination_rate": per_episode(totals["terminated"]),
    })
    return train_state, rollout_state, rollout, metrics


def ppo_iteration(
    train_state: TrainState,
    rollout_state: RolloutState,
    *,
    env: Env,
    config: PPOConfig,
    num_steps: int,
    symmetry: Symmetry | None = None,
) -> tuple[TrainState, RolloutState, dict[str, jax.Array]]:
    """Rollout, then PPO update. PPO metrics are named "ppo/<name>"."""
    train_state, rollout_state, rollout, metrics = collect_rollout(env, train_state, rollout_state, num_steps)
    train_state, update_metrics = ppo.ppo_update(train_state, rollout, config, symmetry)
    metrics.update({f"ppo/{name}": value for name, value in update_metrics.items()})
    return train_state, rollout_state, metrics


def make_ppo_iteration(
    env: Env,
    config: PPOConfig,
    num_steps: int,
    symmetry: Symmetry | None = None,
    donate: bool = False,
):
    """The jitted `(train_state, rollout_state) -> (train_state, rollout_state, metrics)`.

    `donate` lets XLA reuse the input buffers for the outputs (saves memory on accelerators; the inputs
    must not be used after the call).
    """
    fn = functools.partial(ppo_iteration, env=env, config=config, num_steps=num_steps, symmetry=symmetry)
    return jax.jit(fn, donate_argnums=(0, 1) if donate else ())
