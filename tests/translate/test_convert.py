"""Checkpoint loading: diffusers folders (fp32, bf16, sharded), the original Wan key layout, Orbax."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.translate.conftest import random_inputs, reference_forward

torch = pytest.importorskip("torch")

ATOL, RTOL = 2e-5, 1e-5


@pytest.fixture(scope="module")
def saved_dir(reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("wan_diffusers")
    reference.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def inputs(tiny_config):
    return random_inputs(tiny_config, 2, 2, 4, 6, 5, per_token=True, seed=21)


def test_load_diffusers_folder(saved_dir, reference, inputs):
    from mimicjax.translate.wan import load_diffusers_transformer

    model = load_diffusers_transformer(saved_dir)
    assert model.config.num_layers == reference.config.num_layers
    np.testing.assert_allclose(np.asarray(model(*inputs)), reference_forward(reference, *inputs), atol=ATOL, rtol=RTOL)


def test_load_sharded_bfloat16(reference, tiny_config, inputs, tmp_path):
    """A bf16 checkpoint split into shards (+ index json) loads; it matches the bf16-rounded weights."""
    import copy

    from mimicjax.translate.wan import load_diffusers_transformer
    from tests.translate.conftest import make_reference

    copy.deepcopy(reference).to(torch.bfloat16).save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "diffusion_pytorch_model.safetensors.index.json").exists()
    assert len(list(tmp_path.glob("*.safetensors"))) > 1
    rounded = make_reference(tiny_config)
    rounded.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in reference.state_dict().items()})
    model = load_diffusers_transformer(tmp_path)
    leaf = model.params["blocks_0"]["attn1"]["to_q"]["kernel"]
    assert leaf.dtype == np.float32
    np.testing.assert_allclose(np.asarray(model(*inputs)), reference_forward(rounded, *inputs), atol=ATOL, rtol=RTOL)
    # bf16 storage for the big matrices, float32 for norms/modulation
    bf16 = load_diffusers_transformer(tmp_path, param_dtype="bfloat16")
    assert bf16.params["blocks_0"]["attn1"]["to_q"]["kernel"].dtype.name == "bfloat16"
    assert bf16.params["blocks_0"]["scale_shift_table"].dtype == np.float32


def _original_state_dict(reference):
    from mimicjax.translate.wan.convert import diffusers_key_to_original

    return {"model.diffusion_model." + diffusers_key_to_original(k): v.clone() for k, v in reference.state_dict().items()}


def test_original_names_agree_with_diffusers_converter(reference):
    """diffusers' own original->diffusers converter maps our original names back to the diffusers keys."""
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    original = _original_state_dict(reference)
    assert "model.diffusion_model.blocks.0.self_attn.q.weight" in original
    assert "model.diffusion_model.blocks.0.norm3.weight" in original  # affine cross-attention norm
    assert "model.diffusion_model.head.modulation" in original
    converted = convert_wan_transformer_to_diffusers(dict(original))
    assert sorted(converted) == sorted(reference.state_dict())


def test_load_original_layout(reference, tiny_config, inputs, tmp_path):
    from safetensors.torch import save_file

    from mimicjax.translate.wan import load_diffusers_transformer, load_original_transformer

    save_file(_original_state_dict(reference), str(tmp_path / "model.safetensors"))
    # original-repository config.json
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "t2v", "dim": tiny_config.inner_dim, "num_heads": tiny_config.num_attention_heads,
        "in_dim": tiny_config.in_channels, "out_dim": tiny_config.out_channels, "ffn_dim": tiny_config.ffn_dim,
        "freq_dim": tiny_config.freq_dim, "text_dim": tiny_config.text_dim, "num_layers": tiny_config.num_layers,
        "eps": 1e-6, "patch_size": [1, 2, 2], "text_len": 512,
    }))
    expected = reference_forward(reference, *inputs)
    model = load_original_transformer(tmp_path)
    assert model.config == tiny_config.replace(rope_max_seq_len=1024)
    np.testing.assert_allclose(np.asarray(model(*inputs)), expected, atol=ATOL, rtol=RTOL)
    # layout is detected automatically as well
    np.testing.assert_allclose(np.asarray(load_diffusers_transformer(tmp_path)(*inputs)), expected, atol=ATOL, rtol=RTOL)


def test_single_file_config_inferred(reference, tiny_config, inputs, tmp_path):
    from safetensors.torch import save_file

    from mimicjax.translate.wan.convert import load_transformer_params

    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ValueError, match="number of heads"):
        # head_dim 128 is assumed for files without config.json; the tiny model (dim 32) cannot match it
        load_transformer_params(tmp_path / "w.safetensors")
    config, params = load_transformer_params(tmp_path / "w.safetensors", tiny_config)
    assert params["blocks_1"]["ffn"]["proj_in"]["kernel"].shape == (tiny_config.inner_dim, tiny_config.ffn_dim)


def test_load_errors_name_the_problem(saved_dir, tiny_config, tmp_path):
    from mimicjax.translate.wan.convert import load_transformer_params

    with pytest.raises(FileNotFoundError):
        load_transformer_params(tmp_path / "missing")
    with pytest.raises(ValueError, match="no place in the model"):
        load_transformer_params(saved_dir, tiny_config.replace(num_layers=1))
    with pytest.raises(ValueError, match="shape"):
        load_transformer_params(saved_dir, tiny_config.replace(ffn_dim=48))


def test_orbax_round_trip(saved_dir, inputs, tmp_path):
    import jax

    from mimicjax.translate.wan import load_diffusers_transformer
    from mimicjax.translate.wan.convert import load_checkpoint, save_checkpoint

    model = load_diffusers_transformer(saved_dir)
    save_checkpoint(tmp_path / "ckpt", model.config, model.params)
    config, params, meta = load_checkpoint(tmp_path / "ckpt")
    assert config == model.config and meta["wan_config"]["num_layers"] == config.num_layers
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(model.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(FileExistsError):
        save_checkpoint(tmp_path / "ckpt", model.config, model.params)
