"""PPO on the point-mass toy env: learning, the KL-adaptive learning rate, the symmetry terms."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl import networks as nets
from mimicjax.rl import ppo
from mimicjax.rl.rollout import collect_rollout, init_rollout_state, make_ppo_iteration
from mimicjax.rl.symmetry import Symmetry, symmetry_loss
from tests.rl.toy_env import PointMassEnv

ENV = PointMassEnv()
SYMMETRY = Symmetry.from_env(ENV)
NETWORKS = nets.make_actor_critic(
    ENV.observation_size, ENV.action_size,
    nets.NetworkConfig(actor_hidden_sizes=(32, 32), critic_hidden_sizes=(32, 32), init_std=0.5),
)
BASE = ppo.PPOConfig(epochs=2, minibatches=2, learning_rate=1e-3, max_learning_rate=1e-2)

update = jax.jit(ppo.ppo_update, static_argnames=("config", "symmetry"))


@pytest.fixture(scope="module")
def batch():
    """A train state and a 16-step rollout of 16 envs under the initial policy."""
    train_state = ppo.init_train_state(jax.random.key(0), NETWORKS, BASE)
    rollout_state = init_rollout_state(ENV, jax.random.key(1), 16)
    collect = jax.jit(collect_rollout, static_argnums=(0, 3))
    train_state, _, rollout, metrics = collect(ENV, train_state, rollout_state, 16)
    assert rollout.actions.shape == (16, 16, 2) and rollout.last_values.shape == (16,)
    assert np.isnan(float(metrics["episode/return"]))  # 16 steps < time limit: no episode ended yet
    return train_state, rollout


def policy_symmetry_loss(train_state, actor_obs):
    mean, _ = ppo.action_distribution(train_state, actor_obs)
    mirrored, _ = ppo.action_distribution(train_state, SYMMETRY.actor_obs(actor_obs))
    return float(symmetry_loss(mean, mirrored, SYMMETRY.action))


def test_act_samples_or_returns_the_mean(batch):
    train_state, rollout = batch
    obs = rollout.actor_obs[0]
    mean, log_std = ppo.action_distribution(train_state, obs)
    np.testing.assert_array_equal(ppo.act(train_state, obs), mean)
    sampled = ppo.act(train_state, obs, jax.random.key(3))
    assert sampled.shape == mean.shape and not np.allclose(sampled, mean)
    np.testing.assert_allclose(jnp.std(sampled - mean), jnp.exp(log_std).mean(), rtol=0.3)


def test_adapt_learning_rate_rule():
    config = ppo.PPOConfig(desired_kl=0.01, min_learning_rate=1e-4, max_learning_rate=1e-2)
    adapt = lambda lr, kl: float(ppo.adapt_learning_rate(jnp.float32(lr), jnp.float32(kl), config))
    assert adapt(1e-3, 0.05) == pytest.approx(5e-4)  # KL > 2x desired: halve
    assert adapt(1e-3, 0.001) == pytest.approx(1.5e-3)  # KL < desired / 2: x1.5
    assert adapt(1e-3, 0.01) == pytest.approx(1e-3)  # in between: keep
    assert adapt(1.5e-4, 1.0) == pytest.approx(1e-4)  # clipped to the minimum
    assert adapt(9e-3, 0.0) == pytest.approx(1e-2)  # clipped to the maximum


def test_kl_rule_raises_the_rate_when_the_policy_barely_moves(batch):
    train_state, rollout = batch
    config = dataclasses.replace(BASE, desired_kl=10.0)
    new_state, metrics = update(train_state, rollout, config, SYMMETRY)
    steps = config.epochs * config.minibatches
    assert float(new_state.learning_rate) == pytest.approx(1e-3 * 1.5**steps, rel=1e-5)
    assert float(metrics["learning_rate"]) == float(new_state.learning_rate)
    assert float(new_state.opt_state.hyperparams["learning_rate"]) == float(new_state.learning_rate)
    assert int(new_state.iteration) == 1
    expected = {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "symmetry_loss",
                "learning_rate", "grad_norm", "explained_variance", "total_loss"}
    assert expected <= set(metrics)
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
    assert float(metrics["symmetry_loss"]) > 0  # logged although symmetry_coef is 0


def test_kl_rule_lowers_the_rate_when_the_policy_moves_too_far(batch):
    train_state, rollout = batch
    config = dataclasses.replace(BASE, desired_kl=1e-7, min_learning_rate=1e-5)
    new_state, metrics = update(train_state, rollout, config, SYMMETRY)
    assert float(new_state.learning_rate) < 1e-3
    assert float(metrics["approx_kl"]) > 2e-7


def test_zero_symmetry_coef_is_a_metric_only(batch):
    train_state, rollout = batch
    config = dataclasses.replace(BASE, desired_kl=10.0)
    with_metric, _ = update(train_state, rollout, config, SYMMETRY)
    without, metrics = update(train_state, rollout, config, None)
    assert "symmetry_loss" not in metrics
    for a, b in zip(jax.tree.leaves(with_metric.params), jax.tree.leaves(without.params)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_symmetry_loss_and_augmentation_make_the_policy_symmetric(batch):
    train_state, rollout = batch
    config = dataclasses.replace(BASE, symmetry_coef=10.0, mirror_augmentation=True, adaptive_lr=False,
                                 learning_rate=3e-3)
    obs = rollout.actor_obs.reshape(-1, 4)
    # Start from a clearly asymmetric policy: a large random last layer.
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: 30.0 * x if "output" in jax.tree_util.keystr(path) else x, train_state.params
    )
    state = train_state.replace(params=params)
    before = policy_symmetry_loss(state, obs)
    for _ in range(10):
        state, metrics = update(state, rollout, config, SYMMETRY)
    assert float(state.learning_rate) == pytest.approx(3e-3)  # adaptive rate off
    # The normaliser saw mirrored data too, so its mean of the y-like entries is near zero.
    assert abs(float(state.obs_stats["actor"].mean[1])) < 0.1 * float(state.obs_stats["actor"].std[1])
    after = policy_symmetry_loss(state, obs)
    assert before > 0.1 and after < 0.2 * before, (before, after)


def test_symmetry_config_without_mirrors_is_refused(batch):
    train_state, rollout = batch
    with pytest.raises(ValueError, match="Symmetry.from_env"):
        ppo.ppo_update(train_state, rollout, dataclasses.replace(BASE, symmetry_coef=1.0))
    with pytest.raises(ValueError, match="equal minibatches"):
        ppo.ppo_update(train_state, rollout, dataclasses.replace(BASE, minibatches=3))


def test_ppo_improves_the_toy_task():
    config = ppo.PPOConfig(epochs=4, minibatches=4, learning_rate=3e-3, entropy_coef=0.0)
    train_state = ppo.init_train_state(jax.random.key(0), NETWORKS, config)
    rollout_state = init_rollout_state(ENV, jax.random.key(1), 64)
    iteration = make_ppo_iteration(ENV, config, num_steps=32, symmetry=SYMMETRY)
    rewards, distances = [], []
    for _ in range(40):
        train_state, rollout_state, metrics = iteration(train_state, rollout_state)
        rewards.append(float(metrics["reward/mean"]))
        distances.append(float(metrics["env/distance"]))
    assert int(train_state.iteration) == 40
    first, last = rewards[0], np.mean(rewards[-5:])
    assert last > first + 0.3 and last > 0.6, rewards
    assert np.mean(distances[-5:]) < 0.5 * distances[0], distances
    assert np.isfinite(float(metrics["episode/return"])) and float(metrics["episode/count"]) > 0
    assert float(metrics["ppo/explained_variance"]) > 0.5


def test_the_rollout_stores_the_behaviour_policy(batch):
    train_state, rollout = batch
    # The first step acted with the initial normaliser: its stored distribution is that policy's.
    assert rollout.log_probs.shape == (16, 16) and rollout.action_mean.shape == rollout.actions.shape
    expected = nets.log_prob(rollout.action_mean, rollout.action_log_std, rollout.actions)
    np.testing.assert_allclose(rollout.log_probs, expected, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(np.asarray(rollout.log_probs)))


def test_ppo_anchors_to_the_stored_behaviour_log_probs(batch):
    """The ratio's denominator is the rollout's log-probability, not one recomputed after the normaliser
    update: shifting the stored log-probabilities far down clips every ratio at the first step."""
    train_state, rollout = batch
    one_step = dataclasses.replace(BASE, epochs=1, minibatches=1, adaptive_lr=False)
    _, as_stored = update(train_state, rollout, one_step)
    _, shifted = update(train_state, rollout.replace(log_probs=rollout.log_probs - 10.0), one_step)
    assert float(as_stored["clip_fraction"]) < 0.5
    assert float(shifted["clip_fraction"]) == pytest.approx(1.0)


def test_actor_and_critic_gradients_are_clipped_separately():
    grads = {"actor": {"w": jnp.full((4,), 0.1)}, "critic": {"w": jnp.full((4,), 100.0)}}
    clip = ppo.clip_each_network(1.0)
    clipped, _ = clip.update(grads, clip.init(grads))
    np.testing.assert_allclose(clipped["actor"]["w"], grads["actor"]["w"])  # small: untouched by the critic's norm
    assert float(optax_norm(clipped["critic"])) == pytest.approx(1.0, rel=1e-5)


def optax_norm(tree):
    import optax

    return optax.tree.norm(tree)


def test_the_adaptive_rate_watches_this_update_not_the_normaliser_refresh(batch):
    """A normaliser refresh that moves the policy away from the behaviour policy (here: observations far
    from the statistics it was acting with) shows in `behaviour_kl`; `approx_kl`, which the adaptive
    learning rate follows, starts at 0 because no gradient step has been taken yet."""
    train_state, rollout = batch
    shifted = rollout.replace(actor_obs=rollout.actor_obs * 50.0 + 20.0)
    one_step = dataclasses.replace(BASE, epochs=1, minibatches=1)
    _, metrics = update(train_state, shifted, one_step)
    assert float(metrics["behaviour_kl"]) > 1e-5  # the initial actor barely depends on its input (small last layer)
    assert float(metrics["approx_kl"]) < 1e-6
    assert float(metrics["learning_rate"]) >= BASE.learning_rate  # not cut by the refresh
