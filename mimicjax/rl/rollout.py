"""Collecting PPO rollouts from any `Env`, and the jitted training iteration built on it.

A training loop needs two pytrees, `TrainState` and `RolloutState`, and one function:

    iteration = make_ppo_iteration(env, ppo_config, num_steps, symmetry)
    train_state, rollout_state, metrics = iteration(train_state, rollout_state)

`metrics` is a flat dict of scalars with "/"-separated names, ready for `RunLogger.scalars`.
Envs are the leading axis of `rollout_state`; `shard_rollout_state` splits it over the mesh's data axis
and the same code runs on several devices.

Adaptive starts: where the env supports them (`env.init_sampler()` is not None), `rollout_state.sampler`
holds a `motion.sampler.AdaptiveSampler`. Each rollout draws every env's next episode start from it
(passed to `env.step` as `info["next_start"]`) and, at its end, updates it from every step taken: the
bin of the clip time where the step happened and whether it failed (terminated), so a failure is
charged to the moment it happened. The sampler is part of every checkpoint.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

from mimicjax.envs.base import Env, State
from mimicjax.motion import sampler as sampler_lib
from mimicjax.rl import networks as nets
from mimicjax.rl import ppo
from mimicjax.rl.ppo import PPOConfig, Rollout, TrainState
from mimicjax.rl.symmetry import Symmetry


@struct.dataclass
class RolloutState:
    env_state: State  # batched over envs
    episode_return: jax.Array  # [N]: undiscounted return of each env's current episode so far
    episode_length: jax.Array  # [N] int32
    sampler: sampler_lib.AdaptiveSampler | None = None  # adaptive episode starts (not batched over envs)


def init_rollout_state(env: Env, rng: jax.Array, num_envs: int) -> RolloutState:
    env_state = jax.jit(jax.vmap(env.reset))(jax.random.split(rng, num_envs))
    return RolloutState(
        env_state=env_state,
        episode_return=jnp.zeros((num_envs,), jnp.float32),
        episode_length=jnp.zeros((num_envs,), jnp.int32),
        sampler=env.init_sampler(),
    )


def shard_rollout_state(rollout_state: RolloutState, mesh) -> RolloutState:
    """Envs split over the mesh's data axis; the sampler replicated."""
    from mimicjax import distributed

    sampler = rollout_state.sampler
    sharded = distributed.shard_batch(rollout_state.replace(sampler=None), mesh)
    if sampler is not None:
        sampler = jax.device_put(sampler, distributed.replicated(mesh))
    return sharded.replace(sampler=sampler)


def draw_next_starts(env: Env, rollout_state: RolloutState, rng: jax.Array, num_steps: int):
    """[num_steps, N] starts {"clip", "time"} for the episodes the envs begin, or None without a sampler."""
    if rollout_state.sampler is None:
        return None
    num_envs = rollout_state.episode_length.shape[0]
    clips, times = sampler_lib.draw_starts(rollout_state.sampler, env.sampler_config, rng, num_steps * num_envs)
    starts = {"clip": clips, "time": times}
    return jax.tree.map(lambda x: x.reshape(num_steps, num_envs), starts)


def step_envs(env: Env, env_state: State, action: jax.Array, next_start=None) -> State:
    """`vmap(env.step)`; episodes that end start at `next_start` ([N] starts) when given."""
    if next_start is None:
        return jax.vmap(env.step)(env_state, action)
    next_state = jax.vmap(env.step)(env_state.replace(info=dict(env_state.info, next_start=next_start)), action)
    return next_state.replace(info={k: v for k, v in next_state.info.items() if k != "next_start"})


def update_rollout_sampler(env: Env, rollout_state: RolloutState, events) -> tuple[RolloutState, dict]:
    """Fold the rollout's steps (`events` from `sampler_events`, each [T, N]) into the sampler; returns the
    new state and "sampler/..." metrics (none without a sampler)."""
    if rollout_state.sampler is None:
        return rollout_state, {}
    config = env.sampler_config
    sampler = sampler_lib.update_sampler(rollout_state.sampler, config, events["bin"], events["terminated"])
    return rollout_state.replace(sampler=sampler), sampler_lib.sampler_metrics(sampler, config)


def sampler_events(env: Env, sampler, env_state: State, next_env_state: State):
    """Per env: the sampler bin of the clip time the step started from, and whether the step failed."""
    return {
        "bin": sampler_lib.bin_of(sampler, env.sampler_config, env_state.info["clip"], env_state.info["time"]),
        "terminated": next_env_state.terminated,
    }


def advance_episodes(totals: dict, rollout_state: RolloutState, next_env_state: State):
    """Advance per-env returns and lengths by one step and add the episodes that ended to `totals`.

    Returns the next `RolloutState` (sampler unchanged) and the updated totals.
    """
    done = next_env_state.done
    episode_return = rollout_state.episode_return + next_env_state.reward
    episode_length = rollout_state.episode_length + 1
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
        sampler=rollout_state.sampler,
    )
    return next_state, totals


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
    starts = None
    if rollout_state.sampler is not None:
        rollout_rng, start_rng = jax.random.split(rollout_rng)
        starts = draw_next_starts(env, rollout_state, start_rng, num_steps)

    def step(carry, inputs):
        state, totals = carry
        step_rng, next_start = inputs
        obs = state.env_state.obs
        mean, log_std = ppo.action_distribution(train_state, obs["actor"])
        action = nets.sample(step_rng, mean, log_std)
        log_prob = nets.log_prob(mean, log_std, action)
        values = ppo.value(train_state, obs["critic"])
        next_env_state = step_envs(env, state.env_state, action, next_start)
        final_values = ppo.value(train_state, next_env_state.final_obs["critic"])

        next_state, totals = advance_episodes(totals, state, next_env_state)
        events = sampler_events(env, state.sampler, state.env_state, next_env_state) if state.sampler is not None else None
        transition = Rollout(
            actor_obs=obs["actor"],
            critic_obs=obs["critic"],
            actions=action,
            rewards=next_env_state.reward,
            terminated=next_env_state.terminated,
            truncated=next_env_state.truncated,
            values=values,
            log_probs=log_prob,
            action_mean=mean,
            action_log_std=jnp.broadcast_to(log_std, mean.shape),
            final_values=final_values,
            last_values=values,  # replaced below by V of the observation after the last step
        )
        env_metrics = jax.tree.map(jnp.mean, next_env_state.metrics)
        return (next_state, totals), (transition, env_metrics, events)

    zero = jnp.zeros((), jnp.float32)
    totals = {"return": zero, "length": zero, "count": zero, "terminated": zero}
    (rollout_state, totals), (rollout, env_metrics, events) = jax.lax.scan(
        step, (rollout_state, totals), (jax.random.split(rollout_rng, num_steps), starts)
    )
    rollout_state, sampler_metrics = update_rollout_sampler(env, rollout_state, events)
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
    metrics.update(sampler_metrics)
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
