"""GAE against a plain per-env Python loop, including time-limit bootstrapping."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl.ppo import compute_gae, explained_variance


def reference_gae(rewards, values, terminated, truncated, final_values, last_values, gamma, lam):
    """One env at a time, one step at a time, straight from the definitions."""
    T, N = rewards.shape
    advantages = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            if terminated[t, n]:
                target = rewards[t, n]  # failure: nothing after
                running = 0.0
            elif truncated[t, n]:
                target = rewards[t, n] + gamma * final_values[t, n]  # time limit: the future was V(final_obs)
                running = 0.0
            else:
                next_value = values[t + 1, n] if t + 1 < T else last_values[n]
                target = rewards[t, n] + gamma * next_value
            running = target - values[t, n] + gamma * lam * running
            advantages[t, n] = running
    return advantages, advantages + values


@pytest.mark.parametrize("seed", [0, 1])
def test_gae_matches_reference_loop(seed):
    rng = np.random.default_rng(seed)
    T, N = 17, 6
    rewards, values, final_values = rng.normal(size=(3, T, N)).astype(np.float32)
    last_values = rng.normal(size=N).astype(np.float32)
    terminated = (rng.random((T, N)) < 0.1).astype(np.float32)
    truncated = (rng.random((T, N)) < 0.15).astype(np.float32)
    truncated[3, 0] = terminated[3, 0] = 1.0  # both: termination wins
    truncated[T - 1, 1], terminated[T - 1, 1] = 1.0, 0.0  # truncated on the last step
    args = (rewards, values, terminated, truncated, final_values, last_values, 0.97, 0.9)
    advantages, returns = compute_gae(*map(jnp.asarray, args[:6]), 0.97, 0.9)
    ref_adv, ref_ret = reference_gae(*args)
    np.testing.assert_allclose(advantages, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(returns, ref_ret, rtol=1e-5, atol=1e-5)


def test_truncation_bootstraps_and_termination_does_not():
    zeros = jnp.zeros((1, 2))
    final_values = jnp.full((1, 2), 10.0)
    advantages, _ = compute_gae(
        rewards=jnp.ones((1, 2)), values=zeros,
        terminated=jnp.array([[1.0, 0.0]]), truncated=jnp.array([[0.0, 1.0]]),
        final_values=final_values, last_values=jnp.full((2,), 99.0), gamma=0.5, lam=1.0,
    )
    np.testing.assert_allclose(advantages, [[1.0, 1.0 + 0.5 * 10.0]])


def test_lambda_one_gives_discounted_returns():
    rewards = jnp.arange(1.0, 5.0)[:, None]
    zeros = jnp.zeros((4, 1))
    _, returns = compute_gae(rewards, zeros, zeros, zeros, zeros, jnp.array([2.0]), gamma=0.9, lam=1.0)
    r = np.arange(1.0, 5.0)
    expected = [sum(0.9 ** (k - t) * r[k] for k in range(t, 4)) + 0.9 ** (4 - t) * 2.0 for t in range(4)]
    np.testing.assert_allclose(returns[:, 0], expected, rtol=1e-6)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        compute_gae(*(jnp.zeros((3, 2)),) * 5, jnp.zeros((3,)), 0.99, 0.95)


def test_explained_variance():
    targets = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert float(explained_variance(targets, targets)) == 1.0
    assert abs(float(explained_variance(jnp.full(4, 2.5), targets))) < 1e-6
