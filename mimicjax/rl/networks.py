"""Actor and critic networks, and the diagonal Gaussian policy they define.

The actor maps the actor observation to the mean of a Gaussian over actions; its log standard deviation
is a learned parameter that does not depend on the state (one per action, or one shared scalar). There is
no tanh squashing: the env clips or scales actions itself, so the log-probabilities here are exact.
The critic maps the (privileged) critic observation to a scalar value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "elu": nn.elu,
    "relu": nn.relu,
    "tanh": nn.tanh,
    "silu": nn.silu,
    "gelu": nn.gelu,
    "leaky_relu": nn.leaky_relu,
}

LOG_STD_MODES = ("per_action", "scalar")


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    actor_hidden_sizes: tuple[int, ...] = (512, 256, 128)
    critic_hidden_sizes: tuple[int, ...] = (512, 256, 128)
    activation: str = "elu"
    init_std: float = 1.0  # initial action standard deviation
    log_std_mode: str = "per_action"  # "per_action" or "scalar" (one std shared by all actions)
    # Bounds keep the Gaussian well-defined however far the optimiser pushes the log-std.
    min_log_std: float = -5.0
    max_log_std: float = 2.0
    # A small last actor layer starts the policy near mean 0, so early exploration is the std alone.
    actor_output_scale: float = 0.01
    critic_output_scale: float = 1.0

    def __post_init__(self):
        activation_fn(self.activation)
        if self.log_std_mode not in LOG_STD_MODES:
            raise ValueError(f"log_std_mode must be one of {LOG_STD_MODES}, got {self.log_std_mode!r}")
        if self.init_std <= 0:
            raise ValueError(f"init_std must be positive, got {self.init_std}")
        if not self.min_log_std < math.log(self.init_std) < self.max_log_std:
            raise ValueError(
                f"init_std={self.init_std} lies outside [exp(min_log_std), exp(max_log_std)] = "
                f"[{math.exp(self.min_log_std):.3g}, {math.exp(self.max_log_std):.3g}]"
            )


class MLP(nn.Module):
    hidden_sizes: Sequence[int]
    output_size: int
    activation: str = "elu"
    output_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.activation)
        # He-style scaling keeps activations at unit scale through the rectifier-like layers. (Orthogonal
        # init would do as well but compiles a QR per layer, seconds on a CPU.)
        hidden_init = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")
        for i, size in enumerate(self.hidden_sizes):
            x = act(nn.Dense(size, kernel_init=hidden_init, name=f"hidden_{i}")(x))
        output_init = nn.initializers.variance_scaling(self.output_scale**2, "fan_in", "truncated_normal")
        return nn.Dense(self.output_size, kernel_init=output_init, name="output")(x)


class GaussianActor(nn.Module):
    """Actor observation -> (mean, log_std), both shaped (..., action_size)."""

    action_size: int
    hidden_sizes: Sequence[int]
    activation: str = "elu"
    init_std: float = 1.0
    log_std_mode: str = "per_action"
    min_log_std: float = -5.0
    max_log_std: float = 2.0
    output_scale: float = 0.01

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = MLP(self.hidden_sizes, self.action_size, self.activation, self.output_scale, name="mean")(obs)
        shape = (self.action_size,) if self.log_std_mode == "per_action" else ()
        log_std = self.param("log_std", nn.initializers.constant(math.log(self.init_std)), shape)
        log_std = jnp.clip(log_std, self.min_log_std, self.max_log_std)
        return mean, jnp.broadcast_to(log_std, mean.shape)


class ValueCritic(nn.Module):
    """Critic observation -> value, shaped like the batch (..., )."""

    hidden_sizes: Sequence[int]
    activation: str = "elu"
    output_scale: float = 1.0

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return MLP(self.hidden_sizes, 1, self.activation, self.output_scale, name="value")(obs)[..., 0]


@dataclasses.dataclass(frozen=True)
class ActorCritic:
    """The two networks of one policy, with the sizes they were built for. Configuration only."""

    actor: GaussianActor
    critic: ValueCritic
    actor_obs_size: int
    critic_obs_size: int
    action_size: int

    def init(self, rng: jax.Array) -> dict:
        """Fresh parameters {"actor": ..., "critic": ...}."""
        return _init_params(self, rng)

    def distribution(self, actor_params, actor_obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(mean, log_std) of the action distribution for normalised actor observations."""
        return self.actor.apply({"params": actor_params}, actor_obs)

    def mean_action(self, actor_params, actor_obs: jax.Array) -> jax.Array:
        """The deterministic action (the Gaussian's mean), for evaluation and export."""
        return self.distribution(actor_params, actor_obs)[0]

    def value(self, critic_params, critic_obs: jax.Array) -> jax.Array:
        return self.critic.apply({"params": critic_params}, critic_obs)


@functools.partial(jax.jit, static_argnums=0)  # one compiled call instead of many small eager ones
def _init_params(networks: ActorCritic, rng: jax.Array) -> dict:
    actor_rng, critic_rng = jax.random.split(rng)
    return {
        "actor": networks.actor.init(actor_rng, jnp.zeros((1, networks.actor_obs_size)))["params"],
        "critic": networks.critic.init(critic_rng, jnp.zeros((1, networks.critic_obs_size)))["params"],
    }


def make_actor_critic(
    observation_size: dict[str, int], action_size: int, config: NetworkConfig = NetworkConfig()
) -> ActorCritic:
    """Networks for an env with `observation_size` {"actor": n, "critic": m} and `action_size` actions."""
    missing = {"actor", "critic"} - set(observation_size)
    if missing:
        raise ValueError(f"observation_size needs sizes for {sorted(missing)}, got {dict(observation_size)}")
    actor = GaussianActor(
        action_size=action_size,
        hidden_sizes=tuple(config.actor_hidden_sizes),
        activation=config.activation,
        init_std=config.init_std,
        log_std_mode=config.log_std_mode,
        min_log_std=config.min_log_std,
        max_log_std=config.max_log_std,
        output_scale=config.actor_output_scale,
    )
    critic = ValueCritic(tuple(config.critic_hidden_sizes), config.activation, config.critic_output_scale)
    return ActorCritic(
        actor, critic, int(observation_size["actor"]), int(observation_size["critic"]), int(action_size)
    )


# ---- The diagonal Gaussian --------------------------------------------------------------------------

_LOG_2PI = math.log(2.0 * math.pi)


def log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """log N(action; mean, exp(log_std)^2), summed over the last (action) axis."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * _LOG_2PI, axis=-1)


def entropy(log_std: jax.Array) -> jax.Array:
    """Differential entropy of the Gaussian, summed over the last (action) axis."""
    return jnp.sum(log_std + 0.5 * (1.0 + _LOG_2PI), axis=-1)


def sample(rng: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    return mean + jnp.exp(log_std) * jax.random.normal(rng, mean.shape, mean.dtype)


def kl_divergence(
    mean_p: jax.Array, log_std_p: jax.Array, mean_q: jax.Array, log_std_q: jax.Array
) -> jax.Array:
    """KL(p || q) of two diagonal Gaussians, summed over the last (action) axis."""
    var_ratio = jnp.exp(2.0 * (log_std_p - log_std_q))
    mean_term = ((mean_p - mean_q) * jnp.exp(-log_std_q)) ** 2
    return jnp.sum(0.5 * (var_ratio + mean_term - 1.0) - (log_std_p - log_std_q), axis=-1)
