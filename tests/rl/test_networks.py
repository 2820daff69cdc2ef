"""Actor/critic networks and the diagonal Gaussian helpers."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl import networks as nets

SIZES = {"actor": 5, "critic": 9}
SMALL = nets.NetworkConfig(actor_hidden_sizes=(16, 16), critic_hidden_sizes=(16,), init_std=0.5)


def test_shapes_and_separate_inputs():
    ac = nets.make_actor_critic(SIZES, 3, SMALL)
    params = jax.jit(ac.init)(jax.random.key(0))
    mean, log_std = jax.jit(ac.distribution)(params["actor"], jnp.ones((7, 5)))
    assert mean.shape == log_std.shape == (7, 3)
    np.testing.assert_allclose(log_std, math.log(0.5), rtol=1e-6)
    value = jax.jit(ac.value)
    assert value(params["critic"], jnp.ones((7, 9))).shape == (7,)
    assert value(params["critic"], jnp.ones((2, 4, 9))).shape == (2, 4)
    assert params["actor"]["log_std"].shape == (3,)


def test_small_final_actor_layer_starts_near_zero_mean():
    ac = nets.make_actor_critic(SIZES, 3, SMALL)
    params = jax.jit(ac.init)(jax.random.key(1))
    obs = jax.random.normal(jax.random.key(2), (256, 5))
    assert float(jnp.abs(jax.jit(ac.mean_action)(params["actor"], obs)).mean()) < 0.1
    assert float(jnp.abs(jax.jit(ac.value)(params["critic"], obs @ jnp.ones((5, 9)))).mean()) > 0.1


def test_scalar_log_std_is_shared():
    config = nets.NetworkConfig(actor_hidden_sizes=(8,), critic_hidden_sizes=(8,), log_std_mode="scalar")
    ac = nets.make_actor_critic(SIZES, 4, config)
    params = jax.eval_shape(ac.init, jax.random.key(0))
    assert params["actor"]["log_std"].shape == ()
    assert jax.eval_shape(ac.distribution, params["actor"], jnp.zeros((2, 5)))[1].shape == (2, 4)


def test_gaussian_formulas_match_closed_forms():
    rng = np.random.default_rng(0)
    mean, log_std, x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    std = np.exp(log_std)
    expected = np.sum(-0.5 * ((x - mean) / std) ** 2 - np.log(std * np.sqrt(2 * np.pi)), axis=-1)
    np.testing.assert_allclose(nets.log_prob(mean, log_std, x), expected, rtol=1e-5)
    np.testing.assert_allclose(nets.entropy(log_std), np.sum(0.5 * np.log(2 * np.pi * np.e * std**2), -1), rtol=1e-5)
    mean2, log_std2 = rng.normal(size=(2, 6, 4)).astype(np.float32)
    std2 = np.exp(log_std2)
    kl = np.sum(np.log(std2 / std) + (std**2 + (mean - mean2) ** 2) / (2 * std2**2) - 0.5, axis=-1)
    np.testing.assert_allclose(nets.kl_divergence(mean, log_std, mean2, log_std2), kl, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(nets.kl_divergence(mean, log_std, mean, log_std), 0.0, atol=1e-6)


def test_sample_has_the_distribution_moments():
    mean, log_std = jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.5, 2.0]))
    x = nets.sample(jax.random.key(0), jnp.broadcast_to(mean, (20000, 2)), jnp.broadcast_to(log_std, (20000, 2)))
    np.testing.assert_allclose(x.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(x.std(0), jnp.exp(log_std), rtol=0.03)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"activation": "swish2"}, "unknown activation"),
        ({"log_std_mode": "state"}, "log_std_mode"),
        ({"init_std": 100.0}, "outside"),
    ],
)
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nets.NetworkConfig(**kwargs)


def test_missing_observation_size_is_named():
    with pytest.raises(ValueError, match="critic"):
        nets.make_actor_critic({"actor": 3}, 2, SMALL)
