"""LoRA adapters: zero init is a no-op, merge equals the unmerged adapter, files round-trip in PEFT naming."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.translate.conftest import FAST_COMPILE, random_inputs


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

    loss = lambda lo: jnp.mean(adapted.apply(tiny_params, *inputs, lora=lo) ** 2)
    grads = jax.jit(jax.grad(loss), compiler_options=FAST_COMPILE)(lora)
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


# ---- interoperability with diffusers / PEFT ----


def _reference_forward(model, inputs):
    import torch

    with torch.no_grad():
        return model(*[torch.from_numpy(np.array(a)) for a in inputs]).sample.numpy()


def test_our_file_loads_into_diffusers(reference, tiny_model, tiny_params, inputs, tmp_path):
    """A file from `save_lora` loads with diffusers' `load_lora_adapter` (PEFT backend) and gives the
    Flax model's output with the same adapter."""
    pytest.importorskip("peft")
    import copy

    from mimicjax.translate.lora import LoRAConfig, init_lora, save_lora

    targets = ("attn1.to_q", "attn1.to_v", "attn1.to_out.0", "attn2.to_k", "ffn.net.2")
    config = LoRAConfig(rank=4, alpha=8, targets=targets)
    lora = _trained_like(init_lora(tiny_params, config, rng=3))
    save_lora(tmp_path / "pytorch_lora_weights.safetensors", lora, config)
    model = copy.deepcopy(reference)
    model.load_lora_adapter(str(tmp_path), weight_name="pytorch_lora_weights.safetensors", adapter_name="ours")
    assert model.peft_config["ours"].r == 4 and model.peft_config["ours"].lora_alpha == 8
    expected = _reference_forward(model, inputs)
    assert np.abs(expected - _reference_forward(reference, inputs)).max() > 1e-3  # the adapter matters
    got = np.asarray(tiny_model.with_params(lora=lora, lora_scale=config.scale)(*inputs))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)

    # Only some blocks: PEFT adapts exactly those.
    partial = LoRAConfig(rank=2, alpha=2, targets=("attn1.to_q",), blocks=(1,))
    lora = _trained_like(init_lora(tiny_params, partial, rng=4))
    save_lora(tmp_path / "partial.safetensors", lora, partial)
    model = copy.deepcopy(reference)
    model.load_lora_adapter(str(tmp_path), weight_name="partial.safetensors", adapter_name="partial")
    assert not hasattr(model.blocks[0].attn1.to_q, "lora_A") and hasattr(model.blocks[1].attn1.to_q, "lora_A")
    np.testing.assert_allclose(
        np.asarray(tiny_model.with_params(lora=lora, lora_scale=partial.scale)(*inputs)),
        _reference_forward(model, inputs), atol=1e-4, rtol=0,
    )


@pytest.mark.parametrize("rslora", [False, True], ids=["lora", "rslora"])
def test_diffusers_peft_file_loads_into_ours(reference, tiny_model, inputs, tmp_path, rslora):
    """An adapter made and saved by diffusers/PEFT (`add_adapter` + `save_lora_adapter`) loads with
    `load_lora`, per-module ranks and alphas and rsLoRA scaling included."""
    peft = pytest.importorskip("peft")
    import copy

    import torch

    from mimicjax.translate.lora import load_lora

    model = copy.deepcopy(reference)
    peft_config = peft.LoraConfig(
        r=4, lora_alpha=6, target_modules=["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj"],
        rank_pattern={"ffn.net.0.proj": 2}, alpha_pattern={"blocks.1.attn1.to_v": 3}, use_rslora=rslora,
    )
    model.add_adapter(peft_config, adapter_name="trained")
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))
    expected = _reference_forward(model, inputs)
    model.save_lora_adapter(str(tmp_path), adapter_name="trained")
    lora, config = load_lora(tmp_path / "pytorch_lora_weights.safetensors")
    assert config.rank == 4
    assert set(config.targets) >= {"attn1.to_q", "attn2.to_q", "ffn.proj_in"}
    got = np.asarray(tiny_model.with_params(lora=lora, lora_scale=config.scale)(*inputs))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
