"""Collecting PPO rollouts from any `Env`, and the jitted training iteration built on it.

A training loop needs two pytrees, `TrainState` and `RolloutState`, and one function:

    iteration = make_ppo_iteration(env, ppo_config, num_steps, symmetry)
    train_state, rollout_state, metrics = iteration(train_state, rollout_state)

`metrics` is a flat dict of scalars with "/"-separated names, ready for `RunLogger.scalars`.
Envs are the leading axis of `rollout_state`; `shard_rollout_state` splits it over the mesh's data axis
and the same code runs on several devices.

The steps are `rl.unroll.unroll`. `training_unroll` adds what PPO and DAgger (`train.distill`) share
around it: the adaptive starts below, episode returns and lengths carried from one rollout to the next,
and the rollout metrics; each supplies only how it acts and what it keeps of a step.

Adaptive starts: where the env supports them (`env.init_sampler()` is not None), `rollout_state.sampler`
holds a `motion.sampler.AdaptiveSampler`. Each rollout draws every env's next episode start from it
(passed to `env.step` as `info["next_start"]`) and, at its end, updates it from every step taken: the
bin of the clip time where the step happened and whether it failed (terminated), so a failure is
charged to the moment it happened. The sampler is part of every checkpoint.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from mimicjax.envs.base import Env, State
from mimicjax.motion import sampler as sampler_lib
from mimicjax.rl import networks as nets
from mimicjax.rl import ppo
from mimicjax.rl.ppo import PPOConfig, Rollout, TrainState
from mimicjax.rl.symmetry import Symmetry
from mimicjax.rl.unroll import ActFn, RecordFn, unroll


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


def advance_episodes(
    episodes: tuple[jax.Array, jax.Array, dict], env_state: State, next_env_state: State
) -> tuple[jax.Array, jax.Array, dict]:
    """`unroll`'s `advance_fn` of the training rollouts: per-env returns and lengths advanced by one step,
    and the episodes that ended added to the totals.

    `episodes` is (episode_return [N], episode_length [N], totals {"return", "length", "count",
    "terminated"}); an env whose episode ended starts again from 0.
    """
    episode_return, episode_length, totals = episodes
    done = next_env_state.done
    episode_return = episode_return + next_env_state.reward
    episode_length = episode_length + 1
    totals = {
        "return": totals["return"] + jnp.sum(done * episode_return),
        "length": totals["length"] + jnp.sum(done * episode_length),
        "count": totals["count"] + jnp.sum(done),
        "terminated": totals["terminated"] + jnp.sum(next_env_state.terminated),
    }
    return jnp.where(done > 0, 0.0, episode_return), jnp.where(done > 0, 0, episode_length), totals


def episode_metrics(totals: dict) -> dict[str, jax.Array]:
    """Means over the episodes finished during a rollout (NaN when none finished) and their count."""
    count = totals["count"]

    def per_episode(total):
        return jnp.where(count > 0, total / jnp.maximum(count, 1.0), jnp.nan)

    return {
        "episode/return": per_episode(totals["return"]),
        "episode/length": per_episode(totals["length"]),
        "episode/count": count,
        "episode/termination_rate": per_episode(totals["terminated"]),
    }


def training_unroll(
    env: Env, rollout_state: RolloutState, act_fn: ActFn, record_fn: RecordFn, key: jax.Array, num_steps: int
) -> tuple[RolloutState, Any, dict[str, jax.Array]]:
    """`unroll` from a `RolloutState`, with the bookkeeping of training: adaptive episode starts drawn
    before the steps and the sampler updated from them after, per-env episode returns and lengths carried
    on, finished episodes counted.

    With a sampler, `key` is split into (steps key, starts key) first. Returns the rollout state to
    continue from, `record_fn`'s records ([num_steps, ...]) and metrics: the env's own metrics averaged
    over steps and envs ("env/<name>"), the mean reward per step, `episode_metrics` and the sampler's.
    """
    sampler = rollout_state.sampler
    starts = None
    if sampler is not None:
        key, start_key = jax.random.split(key)
        starts = draw_next_starts(env, rollout_state, start_key, num_steps)

    def record(env_state, action, extras, next_env_state):
        return {
            "step": record_fn(env_state, action, extras, next_env_state),
            "reward": next_env_state.reward,
            "env_metrics": jax.tree.map(jnp.mean, next_env_state.metrics),
            "sampler_events": None if sampler is None else sampler_events(env, sampler, env_state, next_env_state),
        }

    zero = jnp.zeros((), jnp.float32)
    episodes = (rollout_state.episode_return, rollout_state.episode_length,
                {"return": zero, "length": zero, "count": zero, "terminated": zero})
    out = unroll(env, rollout_state.env_state, act_fn, key, num_steps, record_fn=record, carry=episodes,
                 advance_fn=advance_episodes, next_starts=starts)
    episode_return, episode_length, totals = out.carry
    rollout_state = rollout_state.replace(env_state=out.state, episode_return=episode_return,
                                          episode_length=episode_length)
    rollout_state, sampler_metrics = update_rollout_sampler(env, rollout_state, out.records["sampler_events"])

    metrics = {f"env/{name}": jnp.mean(values) for name, values in out.records["env_metrics"].items()}
    metrics["reward/mean"] = jnp.mean(out.records["reward"])
    metrics.update(episode_metrics(totals))
    metrics.update(sampler_metrics)
    return rollout_state, out.records["step"], metrics


def policy_transition(
    env_state: State, action: jax.Array, next_env_state: State, mean: jax.Array, log_std: jax.Array,
    values: jax.Array, final_values: jax.Array,
) -> Rollout:
    """One step of a `Rollout`: `action` drawn from the Gaussian policy N(mean, exp(log_std)) in `env_state`,
    which led to `next_env_state`. `values`: V of `env_state`'s critic observation; `final_values`: V of the
    last observation of an episode that ended at this step. `last_values` holds `values` until the caller
    replaces it with V of the observation after the last step."""
    obs = env_state.obs
    return Rollout(
        actor_obs=obs["actor"],
        critic_obs=obs["critic"],
        actions=action,
        rewards=next_env_state.reward,
        terminated=next_env_state.terminated,
        truncated=next_env_state.truncated,
        values=values,
        log_probs=nets.log_prob(mean, log_std, action),
        action_mean=mean,
        action_log_std=jnp.broadcast_to(log_std, mean.shape),
        final_values=final_values,
        last_values=values,
    )


def collect_rollout(
    env: Env, train_state: TrainState, rollout_state: RolloutState, num_steps: int
) -> tuple[TrainState, RolloutState, Rollout, dict[str, jax.Array]]:
    """Step every env `num_steps` times with actions sampled from the current policy.

    Returns the train state (its RNG advanced), the rollout state to continue from, the time-major
    `Rollout`, and the metrics of `training_unroll` ("env/<name>", "reward/mean", "episode/return",
    "episode/length", "episode/count", "episode/termination_rate", "sampler/...").
    """
    rng, rollout_rng = jax.random.split(train_state.rng)
    train_state = train_state.replace(rng=rng)

    def sample_action(env_state, key):
        mean, log_std = ppo.action_distribution(train_state, env_state.obs["actor"])
        return nets.sample(key, mean, log_std), (mean, log_std)

    def transition(env_state, action, distribution, next_env_state):
        mean, log_std = distribution
        return policy_transition(
            env_state, action, next_env_state, mean, log_std,
            values=ppo.value(train_state, env_state.obs["critic"]),
            final_values=ppo.value(train_state, next_env_state.final_obs["critic"]),
        )

    rollout_state, rollout, metrics = training_unroll(env, rollout_state, sample_action, transition, rollout_rng,
                                                      num_steps)
    rollout = rollout.replace(last_values=ppo.value(train_state, rollout_state.env_state.obs["critic"]))
    return train_state, rollout_state, rollout, metrics


def ppo_iteration(
    train_state: TrainState,
    rollout_state: RolloutState,
    *,
    env: Env,
    config: PPOConfig,
    num_steps: int,
    symmetry: Symmetry | None = None,
    ppo_overrides: dict[str, jax.Array] | None = None,
) -> tuple[TrainState, RolloutState, dict[str, jax.Array]]:
    """Rollout, then PPO update. PPO metrics are named "ppo/<name>". `ppo_overrides`: see `ppo.ppo_update`."""
    train_state, rollout_state, rollout, metrics = collect_rollout(env, train_state, rollout_state, num_steps)
    train_state, update_metrics = ppo.ppo_update(train_state, rollout, config, symmetry, ppo_overrides)
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
