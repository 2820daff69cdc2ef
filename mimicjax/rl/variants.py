"""K variants of a training run as one program: PureJaxRL's `vmap(train)` over reward weights, PPO
coefficients and seeds.

A variant's train and rollout states are those of a run of its own; stacked on a new leading axis, K of
them go through one jitted, vmapped PPO iteration. What differs between variants enters that iteration
as numbers (a `VariantValues` with one row per variant), never as structure, so K variants cost one
compile, share the device, and each variant computes what its own run would (within float tolerance):

    iteration = make_variant_iteration(env, ppo_config, num_steps, symmetry)
    train_states, rollout_states, metrics = iteration(train_states, rollout_states, values)   # metrics: (K,)

`mimicjax.train.variants` builds the states and values from K experiment configs and keeps one run
directory per variant.
"""

from __future__ import annotations

import functools

import jax
from flax import struct

from mimicjax.rl.ppo import PPOConfig, TrainState
from mimicjax.rl.rollout import RolloutState, ppo_iteration
from mimicjax.rl.symmetry import Symmetry


@struct.dataclass
class VariantValues:
    """What differs between variants, one entry (a leading-axis row under vmap) per variant.

    rewards           RewardConfig field -> value: term weights and numeric term parameters
    keypoint_weights  (K_keypoints,) the keypoint-weighted reward's weights, or None (the env's own)
    ppo               `ppo.OVERRIDABLE` field -> value (learning_rate, symmetry_coef, entropy_coef)
    """

    rewards: dict
    keypoint_weights: jax.Array | None
    ppo: dict


def variant_iteration(
    train_state: TrainState,
    rollout_state: RolloutState,
    values: VariantValues,
    *,
    env,
    config: PPOConfig,
    num_steps: int,
    symmetry: Symmetry | None = None,
):
    """One PPO iteration of one variant: the env's reward and the update take the variant's values."""
    env = env.with_reward_overrides(values.rewards, values.keypoint_weights)
    return ppo_iteration(train_state, rollout_state, env=env, config=config, num_steps=num_steps,
                         symmetry=symmetry, ppo_overrides=values.ppo)


def make_variant_iteration(env, config: PPOConfig, num_steps: int, symmetry: Symmetry | None = None):
    """The jitted `(train_states, rollout_states, values) -> (train_states, rollout_states, metrics)`, every
    argument and result with the variants on its leading axis.

    `config` gives the structure every variant shares; where variants override `symmetry_coef`, its
    `symmetry_coef` must be positive if any variant's is (`mimicjax.train.variants` sees to that)."""
    fn = functools.partial(variant_iteration, env=env, config=config, num_steps=num_steps, symmetry=symmetry)
    return jax.jit(jax.vmap(fn))
