"""Proximal Policy Optimisation over time-major rollouts of vmapped envs.

The pieces, each a pure function of pytrees:

  * `compute_gae`: advantages and returns, with time-limit truncations bootstrapped from V(final_obs).
  * `TrainState`: parameters, optimiser state, observation statistics, RNG, counters, learning rate.
  * `ppo_update(train_state, rollout, config, symmetry)`: one PPO update (epochs x shuffled minibatches).

The "old" policy PPO anchors to is the behaviour policy: the action distribution and log-probability
stored in the rollout when the action was taken, and the value predicted then (for the clipped value
loss). The observation statistics take in the rollout before the update, so the policy being trained is
the one that acts next; the anchor is not recomputed under the new statistics. Mirrored samples of data
augmentation have no behaviour distribution; their anchor is the actor at the start of the update. The
KL-adaptive learning rate watches the KL to the actor at the start of the update (`approx_kl`: how far
this update moved the policy); the KL to the behaviour policy, which also holds the normaliser's refresh,
is logged as `behaviour_kl`.

Actor and critic are separate networks with separate gradient-norm clips, so a large value gradient
(returns here are sums of per-step rewards, tens to hundreds) never scales the policy's step down.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mimicjax.rl import networks as nets
from mimicjax.rl import normalization
from mimicjax.rl.symmetry import Symmetry, augment, symmetry_loss


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    # None: plain squared error for the value. The default: returns here are sums of per-step rewards (tens
    # to hundreds) and an absolute clip of 0.2 lets the value move only 0.2 per update; measured on the CPU
    # recipe it learned more slowly (experiments/results/cpu_tracking.md).
    value_clip_eps: float | None = None
    entropy_coef: float = 0.005
    value_coef: float = 1.0
    learning_rate: float = 1e-3
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0  # clipped for the actor and the critic separately
    epochs: int = 5
    minibatches: int = 4
    # KL-adaptive learning rate: after each minibatch step, from its KL to the actor at the start of the
    # update, divide the rate when KL > 2 * desired_kl and multiply it when KL < desired_kl / 2, within
    # [min, max].
    adaptive_lr: bool = True
    desired_kl: float = 0.01
    lr_decrease_factor: float = 0.5
    lr_increase_factor: float = 1.5
    min_learning_rate: float = 1e-5
    max_learning_rate: float = 1e-2
    symmetry_coef: float = 0.0  # 0: the symmetry loss is still computed and logged, without gradient
    mirror_augmentation: bool = False
    normalize_advantages: bool = True
    normalize_observations: bool = True
    obs_clip: float = 5.0  # normalised observations are clipped to [-obs_clip, obs_clip]

    def __post_init__(self):
        for name in ("epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"PPOConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_rate", "min_learning_rate", "max_learning_rate", "desired_kl", "max_grad_norm"):
            if getattr(self, name) <= 0:
                raise ValueError(f"PPOConfig.{name} must be positive, got {getattr(self, name)}")
        if not self.min_learning_rate <= self.max_learning_rate:
            raise ValueError(
                f"PPOConfig.min_learning_rate ({self.min_learning_rate}) exceeds max_learning_rate "
                f"({self.max_learning_rate})"
            )
        if not 0 < self.lr_decrease_factor < 1 < self.lr_increase_factor:
            raise ValueError(
                "PPOConfig needs 0 < lr_decrease_factor < 1 < lr_increase_factor, got "
                f"{self.lr_decrease_factor} and {self.lr_increase_factor}"
            )
        if not (0 <= self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ValueError(f"PPOConfig.gamma and gae_lambda must lie in [0, 1], got {self.gamma}, {self.gae_lambda}")
        if self.symmetry_coef < 0:
            raise ValueError(f"PPOConfig.symmetry_coef must be >= 0, got {self.symmetry_coef}")

    @property
    def needs_symmetry(self) -> bool:
        return self.symmetry_coef > 0 or self.mirror_augmentation


@dataclasses.dataclass(frozen=True)
class ObsNormalization:
    """How observations are normalised before the networks see them (static, part of the policy)."""

    enabled: bool = True
    clip: float = 5.0


@struct.dataclass
class TrainState:
    params: dict  # {"actor": ..., "critic": ...}
    opt_state: Any
    obs_stats: dict  # {"actor": RunningStats, "critic": RunningStats}
    rng: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32: PPO updates done
    learning_rate: jax.Array  # () float32: the rate the next step will use
    networks: nets.ActorCritic = struct.field(pytree_node=False)
    obs_normalization: ObsNormalization = struct.field(pytree_node=False, default=ObsNormalization())


@struct.dataclass
class Rollout:
    """`num_steps` transitions of `num_envs` envs, time-major ([T, N, ...])."""

    actor_obs: jax.Array  # [T, N, actor_obs_size], raw (not normalised)
    critic_obs: jax.Array  # [T, N, critic_obs_size], raw
    actions: jax.Array  # [T, N, action_size]
    rewards: jax.Array  # [T, N]
    terminated: jax.Array  # [T, N] float {0, 1}
    truncated: jax.Array  # [T, N] float {0, 1}
    values: jax.Array  # [T, N]: V(obs) when acting
    log_probs: jax.Array  # [T, N]: log-probability of the action under the behaviour policy
    action_mean: jax.Array  # [T, N, action_size]: the behaviour policy's mean (for the KL)
    action_log_std: jax.Array  # [T, N, action_size]: its log standard deviation
    final_values: jax.Array  # [T, N]: V(final_obs); used where truncated
    last_values: jax.Array  # [N]: V of the observation after the last step


def clip_each_network(max_norm: float) -> optax.GradientTransformation:
    """Global-norm clipping applied to each top-level subtree ({"actor", "critic"}) on its own."""

    def update(updates, state, params=None):
        del params
        clipped = {name: _clip_tree(tree, max_norm) for name, tree in updates.items()}
        return clipped, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def _clip_tree(tree, max_norm: float):
    norm = optax.tree.norm(tree)
    scale = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-12))
    return jax.tree.map(lambda g: g * scale.astype(g.dtype), tree)


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Adam after per-network gradient-norm clipping, with the learning rate injected so it can change
    every step."""

    def chain(learning_rate):
        return optax.chain(clip_each_network(config.max_grad_norm), optax.adam(learning_rate, eps=config.adam_eps))

    return optax.inject_hyperparams(chain)(learning_rate=config.learning_rate)


def init_train_state(rng: jax.Array, networks: nets.ActorCritic, config: PPOConfig) -> TrainState:
    rng = as_typed_key(rng)
    rng, init_rng = jax.random.split(rng)
    params = networks.init(init_rng)
    return TrainState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        obs_stats={
            "actor": normalization.init_stats(networks.actor_obs_size),
            "critic": normalization.init_stats(networks.critic_obs_size),
        },
        rng=rng,
        iteration=jnp.zeros((), jnp.int32),
        learning_rate=jnp.asarray(config.learning_rate, jnp.float32),
        networks=networks,
        obs_normalization=ObsNormalization(config.normalize_observations, config.obs_clip),
    )


def as_typed_key(rng: jax.Array) -> jax.Array:
    """A typed PRNG key, from either a typed key or raw uint32 key data."""
    if jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
        return rng
    return jax.random.wrap_key_data(rng)


# ---- The policy as the rollout and evaluation see it -------------------------------------------------


def normalize_obs(train_state: TrainState, name: str, obs: jax.Array) -> jax.Array:
    """`obs` of kind `name` ("actor" or "critic") as the networks expect it."""
    if not train_state.obs_normalization.enabled:
        return obs
    return normalization.normalize(train_state.obs_stats[name], obs, clip=train_state.obs_normalization.clip)


def action_distribution(train_state: TrainState, actor_obs: jax.Array, params=None):
    """(mean, log_std) for raw actor observations."""
    params = train_state.params if params is None else params
    return train_state.networks.distribution(params["actor"], normalize_obs(train_state, "actor", actor_obs))


def value(train_state: TrainState, critic_obs: jax.Array, params=None) -> jax.Array:
    """V(critic_obs) for raw critic observations."""
    params = train_state.params if params is None else params
    return train_state.networks.value(params["critic"], normalize_obs(train_state, "critic", critic_obs))


def act(train_state: TrainState, actor_obs: jax.Array, rng: jax.Array | None = None) -> jax.Array:
    """An action for raw actor observations: sampled with `rng`, or the mean when `rng` is None."""
    mean, log_std = action_distribution(train_state, actor_obs)
    return mean if rng is None else nets.sample(rng, mean, log_std)


# ---- Advantages -----------------------------------------------------------------------------------


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    final_values: jax.Array,
    last_values: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimates and value targets over time-major [T, N] arrays.

    After a done step the next observation belongs to a new episode, so neither the TD target nor the
    advantage recursion looks past it. A truncated (time-limit) step still had a future: its reward gets
    gamma * V(final_obs) added. A terminated step (failure) has none; termination wins over truncation.
    Returns (advantages, returns), returns = advantages + values.
    """
    shapes = {name: x.shape for name, x in
              dict(rewards=rewards, values=values, terminated=terminated, truncated=truncated,
                   final_values=final_values).items()}
    if len(set(shapes.values())) != 1 or len(rewards.shape) != 2 or last_values.shape != rewards.shape[1:]:
        raise ValueError(f"compute_gae needs [T, N] arrays and last_values [N], got {shapes}, "
                         f"last_values {last_values.shape}")
    done = jnp.maximum(terminated, truncated)
    bootstrapped = rewards + gamma * truncated * (1.0 - terminated) * final_values
    next_values = jnp.concatenate([values[1:], last_values[None]], axis=0)
    continues = 1.0 - done
    deltas = bootstrapped + gamma * continues * next_values - values

    def backward(next_advantage, step):
        delta, cont = step
        advantage = delta + gamma * lam * cont * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(last_values), (deltas, continues), reverse=True)
    return advantages, advantages + values


def explained_variance(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """1 - Var(targets - predictions) / Var(targets): 1 is perfect, 0 is no better than a constant."""
    target_var = jnp.var(targets)
    return jnp.where(target_var > 0, 1.0 - jnp.var(targets - predictions) / target_var, jnp.nan)


# ---- The update -----------------------------------------------------------------------------------


def adapt_learning_rate(learning_rate: jax.Array, kl: jax.Array, config: PPOConfig) -> jax.Array:
    """The KL rule: slow down when the policy moved too far, speed up when it barely moved."""
    lr = jnp.where(kl > 2.0 * config.desired_kl, learning_rate * config.lr_decrease_factor, learning_rate)
    lr = jnp.where(kl < 0.5 * config.desired_kl, learning_rate * config.lr_increase_factor, lr)
    return jnp.clip(lr, config.min_learning_rate, config.max_learning_rate)


def _with_learning_rate(opt_state, learning_rate: jax.Array):
    return opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": learning_rate})


def _flatten_time(x: jax.Array) -> jax.Array:
    return x.reshape((-1,) + x.shape[2:])


# The PPOConfig fields that may be given as (traced) arrays in `overrides`: they enter the update only
# as numbers, never as structure, so one compiled update serves every value (a vmapped sweep).
OVERRIDABLE = ("learning_rate", "symmetry_coef", "entropy_coef")


def ppo_update(
    train_state: TrainState,
    rollout: Rollout,
    config: PPOConfig,
    symmetry: Symmetry | None = None,
    overrides: dict[str, jax.Array] | None = None,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One PPO update on `rollout`: GAE, normaliser refresh, `epochs` passes of shuffled minibatches.

    `symmetry` (the env's mirrors) is needed for a positive `symmetry_coef` or `mirror_augmentation`;
    when given, the symmetry loss is always computed and reported, as a metric only if its coefficient
    is 0. `overrides` gives values of the `OVERRIDABLE` fields that replace `config`'s; the structure
    still follows `config` (its `symmetry_coef` must then be positive for an overridden one to have a
    gradient). Returns the new state and scalar metrics averaged over all minibatch steps.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(f"ppo_update cannot override {unknown}; only {list(OVERRIDABLE)}")
    if config.needs_symmetry and symmetry is None:
        raise ValueError(
            "PPOConfig asks for symmetry (symmetry_coef > 0 or mirror_augmentation) but no Symmetry was "
            "given; pass Symmetry.from_env(env)"
        )
    advantages, returns = compute_gae(
        rollout.rewards, rollout.values, rollout.terminated, rollout.truncated,
        rollout.final_values, rollout.last_values, config.gamma, config.gae_lambda,
    )
    samples = {
        "actor_obs": _flatten_time(rollout.actor_obs),
        "critic_obs": _flatten_time(rollout.critic_obs),
        "action": _flatten_time(rollout.actions),
        "advantage": _flatten_time(advantages),
        "return": _flatten_time(returns),
        # The behaviour policy and value, as stored when acting.
        "old_mean": _flatten_time(rollout.action_mean),
        "old_log_std": _flatten_time(rollout.action_log_std),
        "old_log_prob": _flatten_time(rollout.log_probs),
        "old_value": _flatten_time(rollout.values),
    }
    if config.mirror_augmentation:
        samples = augment(samples, symmetry)
    num_samples = samples["action"].shape[0]
    if num_samples % config.minibatches:
        raise ValueError(
            f"{num_samples} samples per update cannot be split into {config.minibatches} equal minibatches; "
            "choose num_envs * num_steps (doubled with mirror augmentation) divisible by minibatches"
        )

    if train_state.obs_normalization.enabled:
        train_state = train_state.replace(obs_stats={
            "actor": normalization.update(train_state.obs_stats["actor"], samples["actor_obs"]),
            "critic": normalization.update(train_state.obs_stats["critic"], samples["critic_obs"]),
        })
    if config.normalize_advantages:
        adv = samples["advantage"]
        samples["advantage"] = (adv - jnp.mean(adv)) / (jnp.std(adv) + 1e-8)

    # The actor at the start of the update (after the normaliser refresh): the KL of each minibatch step
    # to it measures how far this update has moved the policy, which is what the adaptive rate controls.
    start_mean, start_log_std = action_distribution(train_state, samples["actor_obs"])
    samples["start_mean"], samples["start_log_std"] = start_mean, start_log_std
    if config.mirror_augmentation:
        # Mirrored samples were never acted on: their anchor is the actor at the start of the update.
        half = num_samples // 2
        samples["old_mean"] = samples["old_mean"].at[half:].set(start_mean[half:])
        samples["old_log_std"] = samples["old_log_std"].at[half:].set(start_log_std[half:])
        samples["old_log_prob"] = samples["old_log_prob"].at[half:].set(
            nets.log_prob(start_mean[half:], start_log_std[half:], samples["action"][half:]))
    samples = jax.lax.stop_gradient(samples)

    loss_fn = functools.partial(_loss, train_state=train_state, config=config, symmetry=symmetry, overrides=overrides)
    optimizer = make_optimizer(config)
    minibatch_size = num_samples // config.minibatches

    def minibatch_step(carry, minibatch):
        params, opt_state, learning_rate = carry
        grads, metrics = jax.grad(loss_fn, has_aux=True)(params, minibatch)
        if config.adaptive_lr:
            learning_rate = adapt_learning_rate(learning_rate, metrics["approx_kl"], config)
        else:  # a fixed rate is the config's, also when resuming with a changed config
            learning_rate = jnp.asarray(overrides.get("learning_rate", config.learning_rate), jnp.float32)
        opt_state = _with_learning_rate(opt_state, learning_rate)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics["grad_norm"] = optax.tree.norm(grads)
        return (params, opt_state, learning_rate), metrics

    def epoch(carry, epoch_rng):
        order = jax.random.permutation(epoch_rng, num_samples)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape((config.minibatches, minibatch_size) + x.shape[1:]), samples
        )
        return jax.lax.scan(minibatch_step, carry, minibatches)

    rng, update_rng = jax.random.split(train_state.rng)
    carry = (train_state.params, train_state.opt_state, train_state.learning_rate)
    (params, opt_state, learning_rate), metrics = jax.lax.scan(
        epoch, carry, jax.random.split(update_rng, config.epochs)
    )
    metrics = jax.tree.map(jnp.mean, metrics)
    metrics["learning_rate"] = learning_rate
    metrics["explained_variance"] = explained_variance(rollout.values, returns)
    metrics["return_mean"] = jnp.mean(returns)
    metrics["value_mean"] = jnp.mean(rollout.values)
    new_state = train_state.replace(
        params=params,
        opt_state=opt_state,
        rng=rng,
        iteration=train_state.iteration + 1,
        learning_rate=learning_rate,
    )
    return new_state, metrics


def _loss(params, minibatch, *, train_state: TrainState, config: PPOConfig, symmetry: Symmetry | None, overrides: dict):
    mean, log_std = action_distribution(train_state, minibatch["actor_obs"], params)
    log_prob = nets.log_prob(mean, log_std, minibatch["action"])
    ratio = jnp.exp(log_prob - minibatch["old_log_prob"])
    adv = minibatch["advantage"]
    clipped_ratio = jnp.clip(ratio, 1.0 - config.clip_eps, 1.0 + config.clip_eps)
    policy_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped_ratio * adv))

    values = value(train_state, minibatch["critic_obs"], params)
    value_error = jnp.square(values - minibatch["return"])
    if config.value_clip_eps is not None:
        old = minibatch["old_value"]
        clipped_values = old + jnp.clip(values - old, -config.value_clip_eps, config.value_clip_eps)
        value_error = jnp.maximum(value_error, jnp.square(clipped_values - minibatch["return"]))
    value_loss = jnp.mean(value_error)

    entropy = jnp.mean(nets.entropy(log_std))
    entropy_coef = overrides.get("entropy_coef", config.entropy_coef)
    total = policy_loss + config.value_coef * value_loss - entropy_coef * entropy
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": jnp.mean(
            nets.kl_divergence(minibatch["start_mean"], minibatch["start_log_std"], mean, log_std)
        ),
        "behaviour_kl": jnp.mean(nets.kl_divergence(minibatch["old_mean"], minibatch["old_log_std"], mean, log_std)),
        "clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > config.clip_eps).astype(jnp.float32)),
        "action_std": jnp.mean(jnp.exp(log_std)),
    }
    if symmetry is not None:
        # With a zero coefficient the loss is a diagnostic: no gradient flows through it.
        actor_params = params if config.symmetry_coef > 0 else jax.lax.stop_gradient(params)
        mirrored_mean, _ = action_distribution(train_state, symmetry.actor_obs(minibatch["actor_obs"]), actor_params)
        if config.symmetry_coef == 0:
            mean = jax.lax.stop_gradient(mean)
        sym_loss = symmetry_loss(mean, mirrored_mean, symmetry.action)
        metrics["symmetry_loss"] = sym_loss
        if config.symmetry_coef > 0:
            total = total + overrides.get("symmetry_coef", config.symmetry_coef) * sym_loss
    metrics = jax.lax.stop_gradient(metrics)
    metrics["total_loss"] = jax.lax.stop_gradient(total)
    return total, metrics
