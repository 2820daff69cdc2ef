"""A point mass on a plane that must reach a goal: a pure-JAX `Env` for testing the RL core.

Velocity follows the action with a lag; the reward is exp(-2 * distance to goal), so leaving the arena
(|pos| > arena_radius, a failure termination) costs all future reward. Episodes are truncated after
`max_steps`. The actor sees the goal offset and velocity; the critic also sees absolute positions and
the time left. Mirroring reflects y.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from mimicjax.envs.base import Env, State, auto_reset
from mimicjax.rl.symmetry import make_index_mirror


@dataclasses.dataclass(frozen=True)
class PointMassEnv(Env):
    max_steps: int = 40
    arena_radius: float = 2.0
    dt: float = 0.2
    lag: float = 0.5

    @property
    def observation_size(self) -> dict[str, int]:
        return {"actor": 4, "critic": 7}

    @property
    def action_size(self) -> int:
        return 2

    def reset(self, rng: jax.Array) -> State:
        rng, pos_rng, goal_rng = jax.random.split(rng, 3)
        data = {
            "pos": jax.random.uniform(pos_rng, (2,), minval=-1.0, maxval=1.0),
            "vel": jnp.zeros((2,)),
            "goal": jax.random.uniform(goal_rng, (2,), minval=-1.0, maxval=1.0),
        }
        info = {"step": jnp.zeros((), jnp.int32), "rng": rng}
        obs = self._obs(data, info["step"])
        zero = jnp.zeros(())
        metrics = {"distance": jnp.linalg.norm(data["pos"] - data["goal"]), "out_of_arena": zero}
        return State(data, obs, zero, zero, zero, obs, metrics, info)

    def step(self, state: State, action: jax.Array) -> State:
        action = jnp.clip(action, -1.0, 1.0)
        vel = (1.0 - self.lag) * state.data["vel"] + self.lag * action
        pos = state.data["pos"] + self.dt * vel
        data = {**state.data, "pos": pos, "vel": vel}
        step = state.info["step"] + 1
        distance = jnp.linalg.norm(pos - data["goal"])
        terminated = (jnp.linalg.norm(pos) > self.arena_radius).astype(jnp.float32)
        truncated = (step >= self.max_steps).astype(jnp.float32)
        rng, reset_rng = jax.random.split(state.info["rng"])
        next_state = state.replace(
            data=data,
            obs=self._obs(data, step),
            reward=jnp.exp(-2.0 * distance),
            terminated=terminated,
            truncated=truncated,
            metrics={"distance": distance, "out_of_arena": terminated},
            info={"step": step, "rng": rng},
        )
        return auto_reset(self, next_state, reset_rng)

    def _obs(self, data, step) -> dict:
        time_left = 1.0 - step.astype(jnp.float32) / self.max_steps
        return {
            "actor": jnp.concatenate([data["goal"] - data["pos"], data["vel"]]),
            "critic": jnp.concatenate([data["pos"], data["vel"], data["goal"], time_left[None]]),
        }

    def mirror_observation(self, name: str):
        signs = {"actor": [1, -1, 1, -1], "critic": [1, -1, 1, -1, 1, -1, 1]}
        if name not in signs:
            raise KeyError(f"no observation named {name!r}")
        return make_index_mirror(range(len(signs[name])), signs[name])

    def mirror_action(self, action: jax.Array) -> jax.Array:
        return action * jnp.array([1.0, -1.0], action.dtype)
