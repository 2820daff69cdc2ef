"""The one rollout scan: a batch of envs stepped `steps` times by an action function.

    out = unroll(env, state, act_fn, key, steps, record_fn=record)
    out.state    # the batched env state after the last step
    out.records  # record(...) of every step, each leaf with a leading [steps] axis

Every rollout in mimicjax is this scan: PPO and DAgger (`rl.rollout.training_unroll`), evaluation
(`eval.rollout.make_eval_rollout`) and the training benchmark (`bench.train.random_action_rollout`).
They differ only in what they plug in:

  * `act_fn(state, key) -> (action, extras)`: the [N, A] actions on the batched `state`, and whatever the
    record needs from acting (a policy's mean and log std, the teacher's action, ...);
  * `record_fn(state, action, extras, next_state)`: what a step keeps (a PPO transition, evaluation
    errors, ...); `state` is the state the step started from;
  * `carry` and `advance_fn(carry, state, next_state) -> carry`: anything accumulated over the steps
    (per-env episode returns and lengths, totals of finished episodes);
  * `next_starts`: the start of the episode each env begins when its current one ends (adaptive starts).

Step t's key is `jax.random.split(key, steps)[t]`; `key=None` unrolls a deterministic `act_fn` (it gets
None).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

from mimicjax.envs.base import Env, State

ActFn = Callable[[State, Any], tuple[jax.Array, Any]]  # (state, key or None) -> (action, extras)
RecordFn = Callable[[State, jax.Array, Any, State], Any]
AdvanceFn = Callable[[Any, State, State], Any]


class Unrolled(NamedTuple):
    state: State  # the batched env state after the last step
    carry: Any  # the carry after the last step (as given when there is no `advance_fn`)
    records: Any  # `record_fn`'s pytree per step, each leaf [steps, ...]; None without a `record_fn`


def step_envs(env: Env, env_state: State, action: jax.Array, next_start=None) -> State:
    """`vmap(env.step)`; episodes that end start at `next_start` ([N] starts) when given."""
    if next_start is None:
        return jax.vmap(env.step)(env_state, action)
    next_state = jax.vmap(env.step)(env_state.replace(info=dict(env_state.info, next_start=next_start)), action)
    return next_state.replace(info={k: v for k, v in next_state.info.items() if k != "next_start"})


def unroll(
    env: Env,
    state: State,
    act_fn: ActFn,
    key: jax.Array | None,
    steps: int,
    *,
    record_fn: RecordFn | None = None,
    carry: Any = None,
    advance_fn: AdvanceFn | None = None,
    next_starts: Any = None,
) -> Unrolled:
    """Step the batched env `state` (envs on the leading axis) `steps` times with `act_fn`'s actions.

    `key`: split into one key per step for `act_fn` (None: `act_fn` gets None). `record_fn`: what each
    step keeps (nothing when None). `carry`, `advance_fn`: a value threaded through the steps, advanced
    after each. `next_starts`: a pytree of [steps, N] arrays, step t's passed to `env.step` as
    `info["next_start"]` (see `step_envs`). Traceable: call it inside `jax.jit`.
    """
    keys = None if key is None else jax.random.split(key, steps)

    def step(scan_carry, inputs):
        env_state, extra = scan_carry
        step_key, next_start = inputs
        action, extras = act_fn(env_state, step_key)
        next_env_state = step_envs(env, env_state, action, next_start)
        if advance_fn is not None:
            extra = advance_fn(extra, env_state, next_env_state)
        record = None if record_fn is None else record_fn(env_state, action, extras, next_env_state)
        return (next_env_state, extra), record

    (state, carry), records = jax.lax.scan(step, (state, carry), (keys, next_starts), length=steps)
    return Unrolled(state, carry, records)


__all__ = ["ActFn", "AdvanceFn", "RecordFn", "Unrolled", "step_envs", "unroll"]
