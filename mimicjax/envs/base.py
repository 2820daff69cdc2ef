"""The environment contract shared by every env and by the trainers.

An env is a Python object holding configuration and constants only; `reset` and `step` are pure
functions of one environment's `State` and are vmapped (and sharded) over environments by the caller:

    state = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    state = jax.vmap(env.step)(state, actions)

`step` resets finished environments itself (auto-reset). The returned state's `obs` is then the first
observation of the new episode, while `final_obs` keeps the last observation of the old one, which the
trainer needs to bootstrap the value of a time-limit truncation.
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

Observation = dict  # {"actor": (n,), "critic": (m,)}, plus env-specific extras


@struct.dataclass
class State:
    data: Any  # physics state (mjx.Data) or any pytree
    obs: Observation
    reward: jax.Array  # () float32, the weighted sum of the reward terms
    terminated: jax.Array  # () float32 in {0, 1}: failure; the value after it is 0
    truncated: jax.Array  # () float32 in {0, 1}: time limit; the value after it is V(final_obs)
    final_obs: Observation
    metrics: dict  # () float32 per name: each reward term, termination causes, tracking errors
    info: dict  # env-specific bookkeeping (motion clip and time, last action, rng, ...)

    @property
    def done(self) -> jax.Array:
        return jnp.maximum(self.terminated, self.truncated)


class Env(abc.ABC):
    """A batched-by-vmap environment. Subclasses hold configuration only."""

    @property
    @abc.abstractmethod
    def observation_size(self) -> dict[str, int]:
        """Sizes of the flat observation vectors, e.g. {"actor": 93, "critic": 310}."""

    @property
    @abc.abstractmethod
    def action_size(self) -> int: ...

    @abc.abstractmethod
    def reset(self, rng: jax.Array) -> State: ...

    @abc.abstractmethod
    def step(self, state: State, action: jax.Array) -> State: ...

    # Adaptive episode starts (`mimicjax.motion.sampler`): an env that supports them sets `sampler_config`,
    # returns the sampler's initial state from `init_sampler`, and starts an episode that `step` resets at
    # `info["next_start"]` when the trainer puts one there. None: the env draws its own starts.
    sampler_config = None

    def init_sampler(self):
        return None

    def mirror_observation(self, name: str) -> Callable[[jax.Array], jax.Array]:
        """The reflection T_s of observation `name` (left and right swapped). Involution."""
        raise NotImplementedError(f"{type(self).__name__} does not define observation mirroring")

    def mirror_action(self, action: jax.Array) -> jax.Array:
        """The reflection T_a of an action. Involution."""
        raise NotImplementedError(f"{type(self).__name__} does not define action mirroring")


def auto_reset(env: Env, next_state: State, rng: jax.Array, fresh: State | None = None) -> State:
    """Where `next_state` is done, start a new episode (`fresh`, default `env.reset(rng)`) but keep the
    reward, flags and final obs."""
    if fresh is None:
        fresh = env.reset(rng)

    def pick(new, old):
        return jnp.where(next_state.done > 0, new, old)

    data = jax.tree.map(pick, fresh.data, next_state.data)
    obs = jax.tree.map(pick, fresh.obs, next_state.obs)
    info = jax.tree.map(pick, fresh.info, next_state.info)
    return next_state.replace(data=data, obs=obs, info=info, final_obs=next_state.obs)
