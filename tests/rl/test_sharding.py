"""The PPO iteration with envs sharded over 4 (CPU) devices agrees with the single-device run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SHARDED_ITERATION = textwrap.dedent("""
    import mimicjax
    import jax, numpy as np
    from mimicjax import distributed
    from mimicjax.rl import networks as nets, ppo
    from mimicjax.rl.rollout import init_rollout_state, make_ppo_iteration
    from mimicjax.rl.symmetry import Symmetry
    from tests.rl.toy_env import PointMassEnv

    assert jax.device_count() == 4, jax.devices()
    env = PointMassEnv()
    networks = nets.make_actor_critic(
        env.observation_size, env.action_size, nets.NetworkConfig(actor_hidden_sizes=(16,), critic_hidden_sizes=(16,))
    )
    config = ppo.PPOConfig(epochs=2, minibatches=2, symmetry_coef=0.5)
    iteration = make_ppo_iteration(env, config, num_steps=8, symmetry=Symmetry.from_env(env))
    mesh = distributed.make_mesh()
    start = (
        ppo.init_train_state(jax.random.key(0), networks, config),
        init_rollout_state(env, jax.random.key(1), 16),
    )
    results = []
    for shard in (False, True):
        train_state, rollout_state = start
        if shard:
            rollout_state = distributed.shard_batch(rollout_state, mesh)
            train_state = jax.device_put(train_state, distributed.replicated(mesh))
        for _ in range(2):
            train_state, rollout_state, metrics = iteration(train_state, rollout_state)
        if shard:
            assert len(rollout_state.episode_return.sharding.device_set) == 4
        results.append((train_state, metrics))
    (single, single_metrics), (sharded, sharded_metrics) = results
    for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(sharded.params)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(
        float(single_metrics["ppo/value_loss"]), float(sharded_metrics["ppo/value_loss"]), rtol=1e-3
    )
    print("ok")
""")


@pytest.mark.slow
def test_sharded_iteration_matches_single_device():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", SHARDED_ITERATION],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
