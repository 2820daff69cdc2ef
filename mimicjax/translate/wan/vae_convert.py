"""Wan VAE checkpoints (diffusers `AutoencoderKLWan` and the original repository's files) as Flax
parameter trees.

Files are found and streamed by `checkpoint_io`, one tensor at a time: each tensor is read to host
memory, laid out for Flax here, then cast and placed on the device before the next one is read, so a
load never holds two full copies of the weights.

Key mapping: a PyTorch key such as ``decoder.up_blocks.0.resnets.1.conv1.weight`` becomes the Flax path
``("decoder", "up_blocks_0", "resnets_1", "conv1", "kernel")``: a numeric component is joined to the
name before it (that is how the Flax modules here name list entries), and the leaf name is translated
by the model's own rule (``weight`` -> ``kernel``/``embedding``/``scale`` ...).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import numpy as np

from mimicjax.translate.wan.checkpoint_io import build_params, iter_state_dict


def torch_key_to_path(key: str) -> tuple[str, ...]:
    """``a.b.0.c.weight`` -> ``("a", "b_0", "c", "weight")``."""
    path: list[str] = []
    for part in key.split("."):
        if part.isdigit() and path:
            path[-1] = f"{path[-1]}_{part}"
        else:
            path.append(part)
    return tuple(path)


def torch_conv_to_flax(key: str, array: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """Layout rule shared by the convolutional models: conv kernels OI(D)HW -> (D)HWIO, linear weights
    OI -> IO, everything else (biases, norm scales stored as (C, 1, 1[, 1])) reshaped to the target."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "weight" and array.ndim == 5:
        array = np.transpose(array, (2, 3, 4, 1, 0))
    elif leaf == "weight" and array.ndim == 4:
        array = np.transpose(array, (2, 3, 1, 0))
    elif leaf == "weight" and array.ndim == 2:
        array = np.transpose(array, (1, 0))
    if tuple(array.shape) != tuple(target) and array.size == int(np.prod(target)):
        array = array.reshape(target)
    return array


def vae_key_to_path(key: str) -> tuple[str, ...]:
    path = torch_key_to_path(key)
    leaf = path[-1]
    if leaf == "weight":
        leaf = "kernel"
    return path[:-1] + (leaf,)


def vae_params_from_tensors(
    tensors: Iterable[tuple[str, np.ndarray]], expected: Mapping, dtype: Any, source: str
) -> dict:
    """Flax parameters of `mimicjax.translate.wan.vae.WanVAEModule` from diffusers `AutoencoderKLWan` tensors."""
    return build_params(tensors, expected, vae_key_to_path, torch_conv_to_flax, dtype, source)


def vae_params_from_state_dict(state_dict: Mapping[str, Any], expected: Mapping, dtype: Any) -> dict:
    """Same as `vae_params_from_tensors` for an in-memory state dict (torch tensors or arrays)."""
    return vae_params_from_tensors(iter_state_dict(state_dict), expected, dtype, "state dict")


# --------------------------------------------------------------------------------------------------
# The original Wan repository's VAE layout (Wan2.1_VAE.pth, Wan2.2_VAE.pth)
# --------------------------------------------------------------------------------------------------
#
# Original name                                   diffusers name
#   conv1 / conv2                                   quant_conv / post_quant_conv
#   {encoder,decoder}.conv1                         {encoder,decoder}.conv_in
#   {encoder,decoder}.middle.0 / .1 / .2            .mid_block.resnets.0 / .attentions.0 / .resnets.1
#   {encoder,decoder}.head.0 (norm) / .head.2       .norm_out / .conv_out
#   residual block: residual.0 / .2 / .3 / .6       norm1 / conv1 / norm2 / conv2; shortcut -> conv_shortcut
#   Wan 2.1 encoder.downsamples.N                   encoder.down_blocks.N (the same flat list)
#   Wan 2.1 decoder.upsamples.N (flat list)         decoder.up_blocks.i.resnets.j / .upsamplers.0: stage i
#                                                   holds num_res_blocks + 1 residual blocks, then (except
#                                                   the last stage) one resampler
#   Wan 2.2 encoder.downsamples.X.downsamples.Y     encoder.down_blocks.X.resnets.Y / .downsampler
#   Wan 2.2 decoder.upsamples.X.upsamples.Y         decoder.up_blocks.X.resnets.Y / .upsampler
# Attention (norm, to_qkv, proj) and resampler (resample.1, time_conv) names are the same in both.

_RESIDUAL_PARTS = (
    ("residual.0.", "norm1."),
    ("residual.2.", "conv1."),
    ("residual.3.", "norm2."),
    ("residual.6.", "conv2."),
    ("shortcut.", "conv_shortcut."),
)
_TOP_LEVEL = {"conv1": "quant_conv", "conv2": "post_quant_conv"}
_ORIGINAL_VAE_KEY = re.compile(
    r"^(conv[12]\.|(encoder|decoder)\.(conv1|middle|head|downsamples|upsamples)\.)"
)
_NESTED_DOWN = re.compile(r"^encoder\.downsamples\.\d+\.downsamples\.")

# Latent statistics of the released VAEs (the original repository keeps them in code, not in the file).
_WAN21_LATENTS_MEAN = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)
_WAN21_LATENTS_STD = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)
_WAN22_LATENTS_MEAN = (
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557,
    -0.1382, 0.0542, 0.2813, 0.0891, 0.1570, -0.0098, 0.0375, -0.1825,
    -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230,
    -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.0520, 0.3748,
    0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
)
_WAN22_LATENTS_STD = (
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013,
    0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165, 0.8454, 0.4978,
    0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093,
    0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887,
    0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
)


def is_original_vae_layout(keys: Iterable[str]) -> bool:
    """True when the keys name the original repository's VAE modules (``encoder.downsamples...``)."""
    keys = list(keys)
    return bool(keys) and all(_ORIGINAL_VAE_KEY.match(k) for k in keys)


def _residual_rest(rest: str) -> str:
    for old, new in _RESIDUAL_PARTS:
        if rest.startswith(old):
            return new + rest[len(old):]
    return rest


def original_vae_key_to_diffusers(key: str, num_res_blocks: int) -> str:
    """Diffusers `AutoencoderKLWan` name of an original-layout VAE key (Wan 2.1 or 2.2).

    `num_res_blocks` is needed for the Wan 2.1 decoder, whose flat list of blocks diffusers groups by stage.
    """
    parts = key.split(".")
    if parts[0] in _TOP_LEVEL:
        return ".".join([_TOP_LEVEL[parts[0]]] + parts[1:])
    side, module = parts[0], parts[1] if len(parts) > 1 else ""
    if side not in ("encoder", "decoder"):
        raise KeyError(key)
    rest = ".".join(parts[3:])
    if module == "conv1":
        return ".".join([side, "conv_in"] + parts[2:])
    if module == "head":
        target = {"0": "norm_out", "2": "conv_out"}.get(parts[2])
        if target is None:
            raise KeyError(key)
        return f"{side}.{target}.{rest}"
    if module == "middle":
        target = {"0": "resnets.0", "1": "attentions.0", "2": "resnets.1"}.get(parts[2])
        if target is None:
            raise KeyError(key)
        return f"{side}.mid_block.{target}.{_residual_rest(rest)}"
    if module in ("downsamples", "upsamples") and len(parts) > 3 and parts[2].isdigit():
        stage = int(parts[2])
        blocks = "down_blocks" if module == "downsamples" else "up_blocks"
        if parts[3] == module and len(parts) > 5 and parts[4].isdigit():
            # Wan 2.2: a residual stage holding its own list of blocks.
            inner = ".".join(parts[5:])
            if inner.startswith(("resample.", "time_conv.")):
                sampler = "downsampler" if module == "downsamples" else "upsampler"
                return f"{side}.{blocks}.{stage}.{sampler}.{inner}"
            return f"{side}.{blocks}.{stage}.resnets.{parts[4]}.{_residual_rest(inner)}"
        if module == "downsamples":
            return f"{side}.down_blocks.{stage}.{_residual_rest(rest)}"
        # Wan 2.1 decoder: stage i has num_res_blocks + 1 residual blocks and then one resampler.
        per_stage = num_res_blocks + 2
        i, j = divmod(stage, per_stage)
        if j <= num_res_blocks:
            return f"{side}.up_blocks.{i}.resnets.{j}.{_residual_rest(rest)}"
        return f"{side}.up_blocks.{i}.upsamplers.0.{rest}"
    raise KeyError(key)


def original_vae_config(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """The diffusers-style config dict of an original-layout VAE, inferred from its tensor shapes.

    The released architectures (Wan 2.1: base_dim 96, z_dim 16; Wan 2.2: base_dim 160, z_dim 48,
    decoder width 256) also get their published latent statistics; other shapes get none.
    """
    def shape(key: str) -> tuple[int, ...]:
        if key not in shapes:
            raise ValueError(f"not a Wan VAE checkpoint in the original layout: tensor {key!r} is missing")
        return tuple(shapes[key])

    base_dim, in_channels = shape("encoder.conv1.weight")[:2]
    z_dim = shape("conv2.weight")[0]
    out_channels, head_in = shape("decoder.head.2.weight")[:2]
    residual = any(_NESTED_DOWN.match(k) for k in shapes)
    if residual:
        stages = sorted({int(k.split(".")[2]) for k in shapes if _NESTED_DOWN.match(k)})
        num_res_blocks = len({
            int(k.split(".")[4]) for k in shapes
            if k.startswith("encoder.downsamples.0.downsamples.") and ".residual." in k
        })
        dim_mult = [shape(f"encoder.downsamples.{s}.downsamples.0.residual.6.weight")[0] // base_dim for s in stages]
        temporal = [
            f"encoder.downsamples.{s}.downsamples.{num_res_blocks}.time_conv.weight" in shapes for s in stages[:-1]
        ]
        attn_scales: list[float] = []
    else:
        entries: dict[int, set[str]] = {}
        for k in shapes:
            if k.startswith("encoder.downsamples."):
                entries.setdefault(int(k.split(".")[2]), set()).add(".".join(k.split(".")[3:]))
        dim_mult, temporal, attn_scales = [], [], []
        counts, resnets, scale = [], 0, 1.0
        for index in sorted(entries):
            names = entries[index]
            if "residual.6.weight" in names:
                resnets += 1
                out = shape(f"encoder.downsamples.{index}.residual.6.weight")[0] // base_dim
                if len(dim_mult) == len(counts):
                    dim_mult.append(out)
            elif "to_qkv.weight" in names:
                if scale not in attn_scales:
                    attn_scales.append(scale)
            elif "resample.1.weight" in names:
                temporal.append("time_conv.weight" in names)
                counts.append(resnets)
                resnets, scale = 0, scale / 2.0
            else:
                raise ValueError(f"unrecognised original VAE block encoder.downsamples.{index}: {sorted(names)}")
        counts.append(resnets)
        if len(set(counts)) != 1:
            raise ValueError(f"original VAE stages have different numbers of residual blocks: {counts}")
        num_res_blocks = counts[0]
    if not dim_mult or len(temporal) != len(dim_mult) - 1:
        raise ValueError("could not read the stage layout of the original VAE checkpoint")
    patch = int(round((in_channels // 3) ** 0.5))
    decoder_dim = head_in // dim_mult[0]
    config: dict[str, Any] = {
        "base_dim": base_dim,
        "decoder_base_dim": decoder_dim if decoder_dim != base_dim else None,
        "z_dim": z_dim,
        "dim_mult": dim_mult,
        "num_res_blocks": num_res_blocks,
        "attn_scales": attn_scales,
        "temperal_downsample": temporal,
        "is_residual": residual,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "patch_size": patch if patch > 1 else None,
        "scale_factor_temporal": 2 ** sum(temporal),
        "scale_factor_spatial": patch * 2 ** (len(dim_mult) - 1),
    }
    if not residual and (base_dim, z_dim) == (96, 16):
        config.update(latents_mean=list(_WAN21_LATENTS_MEAN), latents_std=list(_WAN21_LATENTS_STD))
    elif residual and (base_dim, z_dim, decoder_dim) == (160, 48, 256):
        config.update(
            latents_mean=list(_WAN22_LATENTS_MEAN), latents_std=list(_WAN22_LATENTS_STD), clip_output=False
        )
    return config


def original_vae_params_from_tensors(
    tensors: Iterable[tuple[str, np.ndarray]], expected: Mapping, num_res_blocks: int, dtype: Any, source: str
) -> dict:
    """Flax VAE parameters from original-layout tensors."""

    def key_to_path(key: str) -> tuple[str, ...]:
        try:
            name = original_vae_key_to_diffusers(key, num_res_blocks)
        except KeyError:
            raise ValueError(f"{source}: {key!r} is not a key of an original-layout Wan VAE") from None
        return vae_key_to_path(name)

    return build_params(tensors, expected, key_to_path, torch_conv_to_flax, dtype, source)
