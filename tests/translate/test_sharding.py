"""A forward pass sharded over a (data, fsdp, tensor) mesh of 4 CPU devices equals the unsharded one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from mimicjax.translate.wan.configs import TINY
    from mimicjax.translate.wan.transformer import WanTransformer, abstract_params
    from mimicjax.translate.wan import sharding

    config = TINY
    # Host-side random weights (no compile for an init function).
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(s.shape) * 0.2, s.dtype), abstract_params(config))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((4, config.in_channels, 2, 4, 4)), jnp.float32)
    cond = jnp.asarray(rng.standard_normal((4, config.in_channels, 2, 4, 4)), jnp.float32)
    t = jnp.asarray(rng.uniform(0, 1000, (4,)), jnp.float32)
    ctx = jnp.asarray(rng.standard_normal((4, 5, config.text_dim)), jnp.float32)
    module = WanTransformer(config)
    forward = jax.jit(
        lambda p, x, t, c, cond: module.apply({"params": p}, x, t, c, cond),
        compiler_options={"xla_backend_optimization_level": 0},
    )
    expected = np.asarray(forward(params, x, t, ctx, cond))
    for axes in [dict(data=2, fsdp=1, tensor=2), dict(data=1, fsdp=2, tensor=2)]:
        mesh = sharding.make_translate_mesh(**axes)
        sharded = sharding.shard_params(params, mesh)
        q = sharded["blocks_0"]["attn1"]["to_q"]["kernel"].sharding.spec
        if axes.get("tensor", 1) > 1:
            assert "tensor" in tuple(q), q
        if axes.get("fsdp", 1) > 1:
            assert "fsdp" in tuple(q), q
        inputs = sharding.shard_inputs(mesh, x, t, ctx, cond)
        got = forward(sharded, *inputs)
        assert len(got.sharding.device_set) == 4
        np.testing.assert_allclose(np.asarray(got), expected, atol=2e-5, rtol=1e-5)
        print("ok", axes, q)
    """
)


def test_sharded_forward_equals_unsharded():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok") == 2
