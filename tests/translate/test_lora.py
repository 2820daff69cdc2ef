"""LoRA adapters: zero init is a no-op, merge equals the unmerged adapter, files round-trip in PEFT naming."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.translate.conftest import random_inputs


@pytest.fixture(scope="module")
def inputs(tiny_config):
    return tuple(jnp.asarray(a) for a in random_inputs(tiny_config, 2, 2, 4, 4, 4, seed=31))


def _trained_like(lora, seed=1):
    """Give lora_B non-zero values, as after some training."""
    keys = iter(jax.random.split(jax.random.PRNGKey(seed), 64))
    return jax.tree_util.tree_map_with_path(
        lambda path, x: jax.random.normal(next(keys), x.shape) * 0.1 if path[-1].key == "lora_B" else x, lora
    )


def test_zero_init_leaves_outputs_unchanged(tiny_model, tiny_params, inputs):
    from mimicjax.translate.lora import LoRAConfig, init_lora

    config = LoRAConfig(rank=4, alpha=8)
    lora = init_lora(tiny_params, config, rng=0)
    assert set(lora) == {"blocks_0", "blocks_1"}
    assert set(lora["blocks_0"]["attn1"]) == {"to_q", "to_k", "to_v", "to_out"}
    assert lora["blocks_0"]["attn1"]["to_q"]["lora_A"].shape == (32, 4)
    adapted = tiny_model.with_params(lora=lora, lora_scale=config.scale)
    # equal up to float32 rounding (a differently fused graph)
    np.testing.assert_allclose(np.asarray(adapted(*inputs)), np.asarray(tiny_model(*inputs)), atol=2e-6, rtol=0)


def test_merged_equals_unmerged_and_gradients_reach_only_lora(tiny_model, tiny_params, inputs):
    from mimicjax.translate.lora import LoRAConfig, init_lora, merge_lora

    config = LoRAConfig(rank=4, alpha=8, targets=("attn1.to_q", "attn1.to_v", "attn1.to_out.0", "ffn.net.0.proj"))
    lora = _trained_like(init_lora(tiny_params, config, rng=1))
    adapted = tiny_model.with_params(lora=lora, lora_scale=config.scale)
    unmerged = np.asarray(adapted(*inputs))
    assert np.abs(unmerged - np.asarray(tiny_model(*inputs))).max() > 1e-3
    merged_params = merge_lora(tiny_params, lora, config.scale)
    merged = np.asarray(tiny_model.with_params(params=merged_params)(*inputs))
    np.testing.assert_allclose(merged, unmerged, atol=2e-5, rtol=1e-5)
    # the frozen params are untouched by merging, and untouched leaves are shared, not copied
    assert merged_params["blocks_0"]["attn1"]["to_k"]["kernel"] is tiny_params["blocks_0"]["attn1"]["to_k"]["kernel"]
    assert not np.array_equal(merged_params["blocks_0"]["attn1"]["to_q"]["kernel"], tiny_params["blocks_0"]["attn1"]["to_q"]["kernel"])

    grads = jax.jit(jax.grad(lambda lo: jnp.mean(adapted.apply(tiny_params, *inputs, lora=lo) ** 2)))(lora)
    assert jax.tree.structure(grads) == jax.tree.structure(lora)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))


def test_save_load_round_trip_peft_names(tiny_params, tmp_path):
    from safetensors import safe_open

    from mimicjax.translate.lora import LoRAConfig, init_lora, load_lora, save_lora

    config = LoRAConfig(rank=4, alpha=2)
    lora = _trained_like(init_lora(tiny_params, config, rng=2))
    path = save_lora(tmp_path / "adapter.safetensors", lora, config)
    with safe_open(str(path), framework="numpy") as f:
        keys = set(f.keys())
        a = f.get_tensor("transformer.blocks.1.attn1.to_out.0.lora_A.weight")
        b = f.get_tensor("transformer.blocks.1.attn1.to_out.0.lora_B.weight")
        assert '"transformer.lora_alpha": 2' in f.metadata()["lora_adapter_metadata"]
    assert "transformer.blocks.0.attn1.to_q.lora_A.weight" in keys and len(keys) == 2 * 4 * 2
    assert a.shape == (4, 32) and b.shape == (32, 4)  # PEFT: A [rank, in], B [out, rank]
    loaded, loaded_config = load_lora(path)
    assert (loaded_config.rank, loaded_config.alpha, loaded_config.scale) == (4, 2.0, 0.5)
    assert set(loaded_config.targets) == {"attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out"}
    for x, y in zip(jax.tree.leaves(loaded), jax.tree.leaves(lora)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert jax.tree.structure(loaded) == jax.tree.structure(lora)


def test_bad_target_is_reported(tiny_params):
    from mimicjax.translate.lora import LoRAConfig, init_lora

    with pytest.raises(ValueError, match="not found"):
        init_lora(tiny_params, LoRAConfig(targets=("attn1.to_z",)))
