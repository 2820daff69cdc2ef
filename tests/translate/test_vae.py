"""Parity of the Flax Wan VAE with diffusers' AutoencoderKLWan at tiny random sizes (float32, CPU).

Both layouts: Wan 2.1 (plain blocks, 8x spatial) and Wan 2.2 (2x2 patchify, residual blocks with the
avg-down / dup-up shortcuts, a wider decoder: 16x spatial). Videos of 1, 5 and 9 frames exercise the
first-chunk path and one or two cached chunks; two spatial sizes (one non-square) catch H/W mix-ups.
Compiled steps are shared between tests through the module-scoped models.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from mimicjax.translate.wan.vae import WanVAE, WanVAEConfig, load_diffusers_vae, patchify, unpatchify  # noqa: E402

TOL = 1e-4
# Tiny models: XLA's cheapest CPU code generation halves compile time and changes no arithmetic.
FAST = {"compiler_options": {"xla_backend_optimization_level": 0}}
FRAMES = (1, 5, 9)
SIZES = ((32, 32), (16, 48))

TINY = {
    "wan2.1": dict(
        base_dim=8,
        z_dim=4,
        dim_mult=[1, 2, 4, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.1, -0.2, 0.3, -0.4],
        latents_std=[1.5, 0.5, 2.0, 1.0],
    ),
    "wan2.2": dict(
        base_dim=8,
        decoder_base_dim=12,
        z_dim=8,
        dim_mult=[1, 2, 4, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        is_residual=True,
        patch_size=2,
        in_channels=12,
        out_channels=12,
        scale_factor_spatial=16,
        latents_mean=[0.05 * i for i in range(8)],
        latents_std=[1.0 + 0.1 * i for i in range(8)],
    ),
}


def _reference(layout: str):
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0 if layout == "wan2.1" else 1)
    model = AutoencoderKLWan(**TINY[layout]).eval()
    # Default init has unit norm scales and zero biases; perturb them so every parameter matters.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("gamma"):
                param.copy_(1.0 + 0.2 * torch.randn_like(param))
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn_like(param))
    return model


@pytest.fixture(scope="module", params=sorted(TINY))
def pair(request):
    """(layout, diffusers model, Flax VAE with the same weights)."""
    model = _reference(request.param)
    vae = WanVAE.from_torch_state_dict(dict(model.config), model.state_dict(), **FAST)
    return request.param, model, vae


def _video(seed: int, frames: int, size: tuple[int, int]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    batch = 1 if size == SIZES[0] else 2  # the second size also covers batching, with no extra compile
    return torch.rand(batch, 3, frames, *size, generator=gen) * 2 - 1


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("frames", FRAMES)
def test_encode_decode_match_diffusers(pair, frames, size):
    layout, model, vae = pair
    video = _video(frames, frames, size)
    with torch.no_grad():
        ref_mean = model.encode(video).latent_dist.mean.numpy()
    mean = np.asarray(vae.encode(video.numpy()))
    assert mean.shape == ref_mean.shape
    err_enc = float(np.abs(mean - ref_mean).max())
    assert err_enc < TOL, f"{layout} encode max abs error {err_enc}"

    gen = torch.Generator().manual_seed(100 + frames)
    latents = 3.0 * torch.randn(ref_mean.shape, generator=gen)
    with torch.no_grad():
        ref_video = model.decode(latents).sample.numpy()
    decoded = np.asarray(vae.decode(latents.numpy()))
    assert decoded.shape == ref_video.shape == (video.shape[0], 3, 1 + 4 * (latents.shape[2] - 1), *size)
    err_dec = float(np.abs(decoded - ref_video).max())
    assert err_dec < TOL, f"{layout} decode max abs error {err_dec}"
    assert decoded.min() >= -1.0 and decoded.max() <= 1.0


@pytest.mark.parametrize("storage", ["float32", "bfloat16"])
def test_load_diffusers_folder(pair, tmp_path, storage):
    """save_pretrained -> load_diffusers_vae (streamed safetensors, fp32 or bf16 on disk) -> same numbers."""
    layout, model, _ = pair
    saved = copy.deepcopy(model).to(getattr(torch, storage))
    saved.save_pretrained(tmp_path / "vae", safe_serialization=True)
    reference = saved.to(torch.float32)  # the weights as stored, run in float32
    vae = load_diffusers_vae(tmp_path, dtype="float32", **FAST)  # pipeline root: finds vae/
    assert vae.config == WanVAEConfig.from_dict(dict(model.config))
    video = _video(7, 5, SIZES[0])
    with torch.no_grad():
        ref_mean = reference.encode(video).latent_dist.mean.numpy()
        ref_video = reference.decode(torch.from_numpy(ref_mean)).sample.numpy()
    mean = np.asarray(vae.encode(video.numpy()))
    assert np.abs(mean - ref_mean).max() < TOL
    assert np.abs(np.asarray(vae.decode(mean)) - ref_video).max() < TOL


def test_bfloat16_traces_in_bfloat16(pair):
    """bfloat16 weights keep activations and every cache in bfloat16 through both chunk steps.

    Traced with `jax.eval_shape`: compiling bfloat16 convolutions on CPU takes several times longer than
    float32, and the float32 tests already pin the arithmetic.
    """
    import jax

    layout, model, _ = pair
    vae = WanVAE.from_torch_state_dict(dict(model.config), model.state_dict(), dtype="bfloat16")
    bf16 = jax.numpy.bfloat16
    s, z = vae.config.spatial_factor, vae.config.z_dim
    first = jax.ShapeDtypeStruct((1, 3, 1, 2 * s, s), np.float32)
    chunk = jax.ShapeDtypeStruct((1, 3, 4, 2 * s, s), np.float32)
    mean, cache = jax.eval_shape(vae._encode_first, vae.params, first)
    mean, cache2 = jax.eval_shape(vae._encode_next, vae.params, cache, chunk)
    assert mean.shape == (1, z, 1, 2, 1) and mean.dtype == bf16
    assert jax.tree_util.tree_structure(cache) == jax.tree_util.tree_structure(cache2)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(cache2)} == {np.dtype(bf16)}
    latent = jax.ShapeDtypeStruct((1, z, 1, 2, 1), np.float32)
    video, cache = jax.eval_shape(vae._decode_first, vae.params, latent)
    video, cache2 = jax.eval_shape(vae._decode_next, vae.params, cache, latent)
    assert video.shape == (1, 3, 4, 2 * s, s) and video.dtype == bf16
    assert jax.tree_util.tree_structure(cache) == jax.tree_util.tree_structure(cache2)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(cache2)} == {np.dtype(bf16)}


def test_latent_normalisation_matches_pipeline(pair):
    layout, model, vae = pair
    cfg = model.config
    z = torch.randn(2, cfg.z_dim, 3, 2, 2)
    mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1, 1)
    recip_std = 1.0 / torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1, 1)
    normalised = np.asarray(vae.normalize_latents(z.numpy()))
    np.testing.assert_allclose(normalised, ((z - mean) * recip_std).numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(vae.denormalize_latents(normalised)), z.numpy(), atol=1e-5)
    # The Wan pipelines decode `latents / (1 / std) + mean`.
    np.testing.assert_allclose(
        np.asarray(vae.denormalize_latents(z.numpy())), (z / recip_std + mean).numpy(), atol=1e-5
    )


def test_patchify_matches_diffusers():
    from diffusers.models.autoencoders.autoencoder_kl_wan import patchify as ref_patchify
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify as ref_unpatchify

    x = torch.randn(2, 3, 2, 8, 12)
    np.testing.assert_array_equal(np.asarray(patchify(x.numpy(), 2)), ref_patchify(x, 2).numpy())
    y = torch.randn(2, 12, 2, 4, 6)
    np.testing.assert_array_equal(np.asarray(unpatchify(y.numpy(), 2)), ref_unpatchify(y, 2).numpy())


def test_random_init_shapes(pair):
    layout, model, _ = pair
    vae = WanVAE.from_config(dict(model.config), seed=3, **FAST)
    latents = vae.encode(np.zeros((1, 3, 5, 32, 32), np.float32))
    s = vae.config.spatial_factor
    assert latents.shape == (1, vae.config.z_dim, 2, 32 // s, 32 // s)
    video = vae.decode(latents)
    assert video.shape == (1, 3, 5, 32, 32)
    assert np.isfinite(np.asarray(video)).all()


def test_bad_inputs_are_explained(pair, tmp_path):
    layout, model, vae = pair
    with pytest.raises(ValueError, match="1 \\+ 4k frames"):
        vae.encode(np.zeros((1, 3, 4, 32, 32), np.float32))
    with pytest.raises(ValueError, match="channels"):
        vae.encode(np.zeros((1, 32, 32, 5, 3), np.float32))
    with pytest.raises(ValueError, match="multiples of"):
        vae.encode(np.zeros((1, 3, 1, 20, 36), np.float32))
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_diffusers_vae(tmp_path)
    # A checkpoint whose config.json disagrees with its weights names the problem.
    model.save_pretrained(tmp_path / "vae", safe_serialization=True)
    config_file = tmp_path / "vae" / "config.json"
    config = json.loads(config_file.read_text())
    config["num_res_blocks"] = 2
    config_file.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json"):
        load_diffusers_vae(tmp_path / "vae")


# ---- the original Wan repository's key layout (Wan2.1_VAE.pth / Wan2.2_VAE.pth) ----

_RESIDUAL_TO_ORIGINAL = {
    "norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3", "conv2": "residual.6",
    "conv_shortcut": "shortcut",
}


def _to_original(key: str, num_res_blocks: int, residual: bool) -> str:
    """The original repository's name of a diffusers AutoencoderKLWan key, written from the module layout
    of `wan/modules/vae.py` (Wan 2.1: flat block lists) and `vae2_2.py` (Wan 2.2: a list per stage)."""
    parts = key.split(".")
    top = {"quant_conv": "conv1", "post_quant_conv": "conv2"}
    if parts[0] in top:
        return ".".join([top[parts[0]]] + parts[1:])
    side, module, rest = parts[0], parts[1], parts[2:]

    def block(names):
        if names[0] in _RESIDUAL_TO_ORIGINAL:
            return _RESIDUAL_TO_ORIGINAL[names[0]].split(".") + names[1:]
        return names

    if module in ("conv_in", "norm_out", "conv_out"):
        head = {"conv_in": ["conv1"], "norm_out": ["head", "0"], "conv_out": ["head", "2"]}[module]
        return ".".join([side] + head + rest)
    if module == "mid_block":
        index = {("resnets", "0"): "0", ("attentions", "0"): "1", ("resnets", "1"): "2"}[tuple(rest[:2])]
        return ".".join([side, "middle", index] + block(rest[2:]))
    stage, kind = rest[0], rest[1]
    if residual:
        inner = {"resnets": None, "downsampler": num_res_blocks, "upsampler": num_res_blocks + 1}[kind]
        lists = "downsamples" if module == "down_blocks" else "upsamples"
        if inner is None:
            return ".".join([side, lists, stage, lists, rest[2]] + block(rest[3:]))
        return ".".join([side, lists, stage, lists, str(inner)] + rest[2:])
    if module == "down_blocks":  # the same flat list
        return ".".join([side, "downsamples", stage] + block(rest[1:]))
    per_stage = num_res_blocks + 2  # num_res_blocks + 1 residual blocks, then a resampler
    if kind == "upsamplers":
        return ".".join([side, "upsamples", str(int(stage) * per_stage + num_res_blocks + 1)] + rest[3:])
    return ".".join([side, "upsamples", str(int(stage) * per_stage + int(rest[2]))] + block(rest[3:]))


def _original_state_dict(model) -> dict:
    cfg = model.config
    return {
        _to_original(k, cfg.num_res_blocks, cfg.is_residual): v.detach().clone().contiguous()
        for k, v in model.state_dict().items()
    }


def test_original_names_agree_with_diffusers_converter():
    """The test's original-layout names map back to the model's keys under diffusers' own single-file
    converter (written for the released Wan 2.1 VAE: two residual blocks per stage)."""
    from diffusers import AutoencoderKLWan
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    config = dict(TINY["wan2.1"], num_res_blocks=2, base_dim=4)
    model = AutoencoderKLWan(**config)
    keys = list(model.state_dict())
    original = {_to_original(k, 2, False): i for i, k in enumerate(keys)}
    assert len(original) == len(keys)
    back = convert_wan_vae_to_diffusers(original)
    assert {back_key: index for back_key, index in back.items()} == {k: i for i, k in enumerate(keys)}
    # Spot checks against the released file's names.
    assert _to_original("decoder.up_blocks.1.resnets.0.conv_shortcut.weight", 2, False) == (
        "decoder.upsamples.4.shortcut.weight"
    )
    assert _to_original("decoder.up_blocks.2.upsamplers.0.time_conv.bias", 2, False) == (
        "decoder.upsamples.11.time_conv.bias"
    )
    assert _to_original("encoder.down_blocks.1.downsampler.resample.1.weight", 2, True) == (
        "encoder.downsamples.1.downsamples.2.resample.1.weight"
    )
    assert _to_original("decoder.up_blocks.0.upsampler.time_conv.weight", 2, True) == (
        "decoder.upsamples.0.upsamples.3.time_conv.weight"
    )


def test_load_original_layout(pair, tmp_path):
    """An original-layout file (safetensors, and .pth through torch) loads through the public entry points,
    its architecture read from the tensor shapes, and matches diffusers."""
    import dataclasses

    from safetensors.torch import save_file

    from mimicjax.translate.wan import load_original_vae

    layout, model, _ = pair
    original = _original_state_dict(model)
    assert any(k.startswith("encoder.downsamples.") for k in original) and "conv2.weight" in original
    save_file(original, str(tmp_path / "vae.safetensors"))
    vae = load_diffusers_vae(tmp_path / "vae.safetensors", **FAST)  # a single file: the original layout
    expected = WanVAEConfig.from_dict(dict(model.config))
    assert vae.config == dataclasses.replace(expected, latents_mean=None, latents_std=None)

    video = _video(11, 5, SIZES[0])
    with torch.no_grad():
        ref_mean = model.encode(video).latent_dist.mean.numpy()
        ref_video = model.decode(torch.from_numpy(ref_mean)).sample.numpy()
    mean = np.asarray(vae.encode(video.numpy()))
    assert np.abs(mean - ref_mean).max() < TOL, f"{layout} encode"
    assert np.abs(np.asarray(vae.decode(mean)) - ref_video).max() < TOL, f"{layout} decode"

    torch.save(original, tmp_path / "vae.pth")
    from_pth = load_original_vae(tmp_path / "vae.pth", config=dict(model.config), **FAST)
    assert from_pth.config == expected  # an explicit config (here with latent statistics) wins
    import jax

    for a, b in zip(jax.tree_util.tree_leaves(from_pth.params), jax.tree_util.tree_leaves(vae.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_original_layout_errors(tmp_path, monkeypatch):
    import sys

    from safetensors.torch import save_file

    from mimicjax.translate.wan.vae import load_original_vae

    model = _reference("wan2.1")
    original = _original_state_dict(model)
    torch.save(original, tmp_path / "vae.pth")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="needs torch"):
        load_original_vae(tmp_path / "vae.pth")
    monkeypatch.undo()
    # diffusers names in one file: pointed to the folder loader
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "diffusers.safetensors"))
    with pytest.raises(ValueError, match="load_diffusers_vae"):
        load_original_vae(tmp_path / "diffusers.safetensors")
    # a missing tensor is named
    del original["decoder.head.2.bias"]
    save_file(original, str(tmp_path / "broken.safetensors"))
    with pytest.raises(ValueError, match="conv_out"):
        load_original_vae(tmp_path / "broken.safetensors")
