"""Running observation statistics: parallel merge, normalisation, sharded batches."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl import normalization as norm


def test_update_matches_numpy_over_all_leading_axes():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(7, 5, 4)).astype(np.float32)
    stats = norm.update(norm.init_stats(4), jnp.asarray(x))
    flat = x.reshape(-1, 4)
    assert float(stats.count) == 35
    np.testing.assert_allclose(stats.mean, flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.variance, flat.var(0), rtol=1e-4)


def test_two_batches_merge_to_one_big_batch():
    rng = np.random.default_rng(1)
    a = rng.normal(100.0, 0.1, size=(64, 3)).astype(np.float32)  # large mean, small spread
    b = rng.normal(101.0, 0.3, size=(13, 3)).astype(np.float32)
    merged = norm.update(norm.update(norm.init_stats(3), a), b)
    whole = norm.update(norm.init_stats(3), jnp.concatenate([a, b]))
    assert float(merged.count) == float(whole.count) == 77
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-6)
    np.testing.assert_allclose(merged.variance, whole.variance, rtol=1e-3)
    np.testing.assert_allclose(merged.variance, np.concatenate([a, b]).astype(np.float64).var(0), rtol=1e-3)


def test_update_is_jittable_and_normalize_clips():
    stats = jax.jit(norm.update)(norm.init_stats(2), jnp.array([[0.0, 10.0], [2.0, 10.0]]))
    y = norm.normalize(stats, jnp.array([[1.0, 10.0], [100.0, 10.0]]), clip=5.0)
    np.testing.assert_allclose(y, [[0.0, 0.0], [5.0, 0.0]])  # constant feature: no blow-up
    np.testing.assert_allclose(norm.denormalize(stats, norm.normalize(stats, jnp.array([1.5, 10.0]), clip=None)),
                               [1.5, 10.0], rtol=1e-6)


def test_fresh_statistics_leave_observations_unchanged():
    x = jnp.array([[0.3, -4.0]])
    np.testing.assert_allclose(norm.normalize(norm.init_stats(2), x, clip=None), x)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="feature shape"):
        norm.update(norm.init_stats(3), jnp.zeros((4, 2)))


SHARDED_CHECK = textwrap.dedent("""
    import mimicjax
    import jax, jax.numpy as jnp, numpy as np
    from mimicjax import distributed
    from mimicjax.rl import normalization as norm
    assert jax.device_count() == 4, jax.devices()
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(4, 32, 6)).astype(np.float32).reshape(128, 6)
    stats = norm.init_stats(6)
    update = jax.jit(norm.update)
    plain = update(stats, jnp.asarray(x))
    sharded_x = distributed.shard_batch(jnp.asarray(x), distributed.make_mesh())
    assert len(sharded_x.sharding.device_set) == 4
    sharded = update(stats, sharded_x)
    np.testing.assert_allclose(sharded.mean, plain.mean, rtol=1e-6)
    np.testing.assert_allclose(sharded.m2, plain.m2, rtol=1e-5)
    assert float(sharded.count) == float(plain.count) == 128
    print("ok")
""")


def test_sharded_batch_gives_the_same_statistics():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", SHARDED_CHECK], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
