"""The Wan 2.1 / 2.2 video VAE in Flax, numerically matching diffusers' `AutoencoderKLWan`.

Both released layouts are covered by one config (`WanVAEConfig`, same field names as the diffusers
`config.json`):

* Wan 2.1: z_dim 16, 8x spatial and 4x temporal compression.
* Wan 2.2: z_dim 48, a 2x2 pixel patchify in front of the encoder (and its inverse after the decoder),
  residual down/up blocks whose shortcut averages (`avg_down`) or duplicates (`dup_up`) space-time
  neighbourhoods, and a wider decoder (`decoder_base_dim`): 16x spatial, 4x temporal.

Public arrays are NCTHW (batch, channels, frames, height, width) like diffusers; inside, activations are
channels-last (B, T, H, W, C).

Weights load from a diffusers `AutoencoderKLWan` folder (`load_diffusers_vae`) or from the original
repository's single file, ``Wan2.1_VAE.pth`` / ``Wan2.2_VAE.pth`` or a .safetensors with the same keys
(`load_original_vae`; the key mapping is documented in `vae_convert`).

Temporal causality. Every 3x3x3 convolution is causal in time: it sees the current frame and the two
before. Videos are processed in the reference schedule (encode: the first frame alone, then chunks of 4
frames; decode: one latent frame at a time). Each causal convolution keeps the last two frames of its
input in the Flax `cache` collection, starting from zeros, which is the same as zero padding at the start
of the video. The temporal resamplers are special on the first chunk: the encoder's temporal
downsampler passes the first frame through and the decoder's temporal upsampler emits one frame (not
two) for the first latent frame. The cache has the same shapes for every chunk after the first, so one
compiled step serves a whole video.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from pathlib import Path
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from mimicjax.translate.wan.checkpoint_io import (
    DIFFUSERS_STEM,
    TRANSFORMERS_STEM,
    checkpoint_files,
    component_folder,
    iter_tensors,
    resolve_dtype,
    tensor_shapes,
)

logger = logging.getLogger(__name__)

# Frames per encoder chunk after the first frame (the reference schedule).
ENCODE_CHUNK_FRAMES = 4
# Frames of context a 3-tap causal convolution keeps between chunks.
CACHE_FRAMES = 2

# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WanVAEConfig:
    """Architecture of a Wan VAE; field names follow diffusers' `AutoencoderKLWan` config.json."""

    base_dim: int = 96
    decoder_base_dim: int | None = None
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attn_scales: tuple[float, ...] = ()
    temperal_downsample: tuple[bool, ...] = (False, True, True)
    latents_mean: tuple[float, ...] | None = None
    latents_std: tuple[float, ...] | None = None
    is_residual: bool = False
    in_channels: int = 3
    out_channels: int = 3
    patch_size: int | None = None
    scale_factor_temporal: int = 4
    scale_factor_spatial: int = 8
    # Clamp decoded videos to [-1, 1] (the reference always does).
    clip_output: bool = True

    def __post_init__(self):
        object.__setattr__(self, "dim_mult", tuple(int(m) for m in self.dim_mult))
        object.__setattr__(self, "attn_scales", tuple(float(s) for s in self.attn_scales))
        object.__setattr__(self, "temperal_downsample", tuple(bool(t) for t in self.temperal_downsample))
        for name in ("latents_mean", "latents_std"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(float(v) for v in value)
                if len(value) != self.z_dim:
                    raise ValueError(f"{name} has {len(value)} entries but z_dim is {self.z_dim}")
                object.__setattr__(self, name, value)
        if len(self.temperal_downsample) != len(self.dim_mult) - 1:
            raise ValueError(
                f"temperal_downsample needs {len(self.dim_mult) - 1} entries (one per downsampling stage), "
                f"got {len(self.temperal_downsample)}"
            )
        patch = self.patch_size or 1
        if self.in_channels % (patch * patch) or self.out_channels % (patch * patch):
            raise ValueError(
                f"in_channels ({self.in_channels}) and out_channels ({self.out_channels}) must be divisible "
                f"by patch_size**2 ({patch * patch}): they count the channels after patchify"
            )

    @property
    def decoder_dim(self) -> int:
        return self.decoder_base_dim if self.decoder_base_dim is not None else self.base_dim

    @property
    def patch(self) -> int:
        return self.patch_size or 1

    @property
    def video_channels(self) -> int:
        return self.in_channels // (self.patch * self.patch)

    @property
    def output_channels(self) -> int:
        return self.out_channels // (self.patch * self.patch)

    @property
    def spatial_factor(self) -> int:
        return self.patch * 2 ** (len(self.dim_mult) - 1)

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(self.temperal_downsample)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WanVAEConfig":
        """Build from a diffusers config dict; bookkeeping keys (`_class_name`, ...) and `dropout` are ignored."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        unknown = sorted(k for k in data if k not in fields and not k.startswith("_") and k != "dropout")
        if unknown:
            logger.warning("WanVAEConfig: ignoring unknown config keys %s", unknown)
        for key in ("scale_factor_temporal", "scale_factor_spatial"):
            if kwargs.get(key) is None:
                kwargs.pop(key, None)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out


# Random-weight VAEs for tests and CPU runs (real VAEs load from their files, with their config).
PRESETS: dict[str, WanVAEConfig] = {
    "tiny": WanVAEConfig(base_dim=8, z_dim=4, dim_mult=(1, 2, 4, 4), num_res_blocks=1),
}


def preset(name: str) -> WanVAEConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown Wan VAE preset {name!r}; choose one of {sorted(PRESETS)}") from None


# --------------------------------------------------------------------------------------------------
# Layers (channels-last)
# --------------------------------------------------------------------------------------------------

_kernel_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


def _conv(x, kernel, bias, strides, precision):
    spatial = kernel.ndim - 2
    dims = {3: ("NDHWC", "DHWIO", "NDHWC"), 2: ("NHWC", "HWIO", "NHWC")}[spatial]
    y = jax.lax.conv_general_dilated(
        x, kernel.astype(x.dtype), strides, "VALID", dimension_numbers=dims, precision=precision
    )
    return y + bias.astype(y.dtype)


class RMSNorm(nn.Module):
    """x / max(||x||_2, 1e-12) * sqrt(C) * gamma over the channel axis (computed in float32)."""

    @nn.compact
    def __call__(self, x):
        channels = x.shape[-1]
        gamma = self.param("gamma", nn.initializers.ones, (channels,), jnp.float32)
        xf = x.astype(jnp.float32)
        norm = jnp.sqrt(jnp.sum(xf * xf, axis=-1, keepdims=True))
        y = (xf / jnp.maximum(norm, 1e-12)).astype(x.dtype)
        return y * jnp.asarray(channels**0.5, x.dtype) * gamma.astype(x.dtype)


class CausalConv3d(nn.Module):
    """3D convolution, zero padded in H/W and causally (front only, 2*pad_t frames) in time.

    With `cached`, the temporal padding comes from the `cache` collection: the last 2*pad_t frames of
    this layer's input in the previous chunk (zeros before the first chunk).
    """

    features: int
    kernel_size: tuple[int, int, int] = (3, 3, 3)
    strides: tuple[int, int, int] = (1, 1, 1)
    padding: tuple[int, int, int] = (1, 1, 1)
    cached: bool = True
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", _kernel_init, (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        pad_t, pad_h, pad_w = self.padding
        context = 2 * pad_t
        front = context
        if context and self.cached:
            b, _, h, w, c = x.shape
            cache = self.variable("cache", "context", jnp.zeros, (b, context, h, w, c), x.dtype)
            x = jnp.concatenate([cache.value.astype(x.dtype), x], axis=1)
            cache.value = x[:, -context:]
            front = 0
        if front or pad_h or pad_w:
            x = jnp.pad(x, ((0, 0), (front, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)))
        return _conv(x, kernel, bias, self.strides, self.precision)


class Conv2d(nn.Module):
    """Per-frame 2D convolution on (..., H, W, C) (the reference's `nn.Conv2d` layers)."""

    features: int
    kernel_size: tuple[int, int] = (3, 3)
    strides: tuple[int, int] = (1, 1)
    padding: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1))
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", _kernel_init, (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        lead = x.shape[:-3]
        x = x.reshape((-1,) + x.shape[-3:])
        x = jnp.pad(x, ((0, 0), self.padding[0], self.padding[1], (0, 0)))
        y = _conv(x, kernel, bias, self.strides, self.precision)
        return y.reshape(lead + y.shape[1:])


class ResidualBlock(nn.Module):
    out_dim: int
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        if x.shape[-1] != self.out_dim:
            shortcut = CausalConv3d(
                self.out_dim, (1, 1, 1), padding=(0, 0, 0), precision=self.precision, name="conv_shortcut"
            )(x)
        else:
            shortcut = x
        x = nn.silu(RMSNorm(name="norm1")(x))
        x = CausalConv3d(self.out_dim, precision=self.precision, name="conv1")(x)
        x = nn.silu(RMSNorm(name="norm2")(x))
        x = CausalConv3d(self.out_dim, precision=self.precision, name="conv2")(x)
        return x + shortcut


class AttentionBlock(nn.Module):
    """Single-head self-attention over the pixels of each frame."""

    precision: Any = None

    @nn.compact
    def __call__(self, x):
        b, t, h, w, c = x.shape
        y = RMSNorm(name="norm")(x)
        qkv = Conv2d(3 * c, (1, 1), padding=((0, 0), (0, 0)), precision=self.precision, name="to_qkv")(y)
        qkv = qkv.reshape(b * t, h * w, 3 * c)
        q, k, v = qkv[..., :c], qkv[..., c : 2 * c], qkv[..., 2 * c :]
        logits = jnp.einsum("bqc,bkc->bqk", q, k, precision=self.precision).astype(jnp.float32) / np.sqrt(c)
        weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        out = jnp.einsum("bqk,bkc->bqc", weights, v, precision=self.precision).reshape(b, t, h, w, c)
        out = Conv2d(c, (1, 1), padding=((0, 0), (0, 0)), precision=self.precision, name="proj")(out)
        return out + x


class Resample(nn.Module):
    """Spatial x2 up/down sampling, optionally with a temporal x2 step (see the module docstring)."""

    dim: int
    mode: str
    upsample_out_dim: int | None = None
    precision: Any = None

    @nn.compact
    def __call__(self, x, first: bool):
        b, t, h, w, c = x.shape
        if self.mode == "upsample3d":
            time_conv = CausalConv3d(
                2 * self.dim, (3, 1, 1), padding=(0, 0, 0), cached=False, precision=self.precision, name="time_conv"
            )
            cache = self.variable("cache", "time_context", jnp.zeros, (b, CACHE_FRAMES, h, w, c), x.dtype)
            if not first:
                joined = jnp.concatenate([cache.value.astype(x.dtype), x], axis=1)
                cache.value = joined[:, -CACHE_FRAMES:]
                y = time_conv(joined).reshape(b, t, h, w, 2, c)
                x = jnp.moveaxis(y, 4, 2).reshape(b, 2 * t, h, w, c)
        if self.mode in ("upsample2d", "upsample3d"):
            out_dim = self.upsample_out_dim if self.upsample_out_dim is not None else self.dim // 2
            x = jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)
            return Conv2d(out_dim, precision=self.precision, name="resample_1")(x)
        if self.mode in ("downsample2d", "downsample3d"):
            x = Conv2d(
                self.dim, strides=(2, 2), padding=((0, 1), (0, 1)), precision=self.precision, name="resample_1"
            )(x)
            if self.mode == "downsample3d":
                b, t, h, w, c = x.shape
                time_conv = CausalConv3d(
                    self.dim, (3, 1, 1), (2, 1, 1), (0, 0, 0), cached=False, precision=self.precision, name="time_conv"
                )
                cache = self.variable("cache", "time_context", jnp.zeros, (b, 1, h, w, c), x.dtype)
                last = x[:, -1:]
                if not first:
                    x = time_conv(jnp.concatenate([cache.value.astype(x.dtype), x], axis=1))
                cache.value = last
            return x
        raise ValueError(f"unknown resample mode {self.mode!r}")


def avg_down(x, out_channels: int, factor_t: int, factor_s: int):
    """Shortcut of a residual down block: average space-time neighbourhoods into channels.

    Frames are zero padded at the front to a multiple of `factor_t`; the (c, dt, dh, dw) values of each
    output position are split into `out_channels` consecutive groups and averaged.
    """
    b, t, h, w, c = x.shape
    pad_t = (factor_t - t % factor_t) % factor_t
    if pad_t:
        x = jnp.pad(x, ((0, 0), (pad_t, 0), (0, 0), (0, 0), (0, 0)))
        t += pad_t
    x = x.reshape(b, t // factor_t, factor_t, h // factor_s, factor_s, w // factor_s, factor_s, c)
    x = x.transpose(0, 1, 3, 5, 7, 2, 4, 6)
    group = c * factor_t * factor_s * factor_s // out_channels
    x = x.reshape(b, t // factor_t, h // factor_s, w // factor_s, out_channels, group)
    return jnp.mean(x.astype(jnp.float32), axis=-1).astype(x.dtype)


def dup_up(x, out_channels: int, factor_t: int, factor_s: int, first: bool):
    """Shortcut of a residual up block: the inverse layout of `avg_down`, by repetition.

    On the first chunk the first `factor_t - 1` frames are dropped (one frame in, one frame out).
    """
    b, t, h, w, c = x.shape
    factor = factor_t * factor_s * factor_s
    x = jnp.repeat(x, out_channels * factor // c, axis=-1)
    x = x.reshape(b, t, h, w, out_channels, factor_t, factor_s, factor_s)
    x = x.transpose(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, t * factor_t, h * factor_s, w * factor_s, out_channels)
    if first:
        x = x[:, factor_t - 1 :]
    return x


class MidBlock(nn.Module):
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        dim = x.shape[-1]
        x = ResidualBlock(dim, self.precision, name="resnets_0")(x)
        x = AttentionBlock(self.precision, name="attentions_0")(x)
        return ResidualBlock(dim, self.precision, name="resnets_1")(x)


class ResidualDownBlock(nn.Module):
    out_dim: int
    num_res_blocks: int
    temporal: bool
    down: bool
    precision: Any = None

    @nn.compact
    def __call__(self, x, first: bool):
        shortcut = avg_down(x, self.out_dim, 2 if self.temporal else 1, 2 if self.down else 1)
        for j in range(self.num_res_blocks):
            x = ResidualBlock(self.out_dim, self.precision, name=f"resnets_{j}")(x)
        if self.down:
            mode = "downsample3d" if self.temporal else "downsample2d"
            x = Resample(self.out_dim, mode, precision=self.precision, name="downsampler")(x, first)
        return x + shortcut


class UpBlock(nn.Module):
    out_dim: int
    num_res_blocks: int
    upsample_mode: str | None
    precision: Any = None

    @nn.compact
    def __call__(self, x, first: bool):
        for j in range(self.num_res_blocks + 1):
            x = ResidualBlock(self.out_dim, self.precision, name=f"resnets_{j}")(x)
        if self.upsample_mode is not None:
            x = Resample(self.out_dim, self.upsample_mode, precision=self.precision, name="upsamplers_0")(x, first)
        return x


class ResidualUpBlock(nn.Module):
    out_dim: int
    num_res_blocks: int
    temporal: bool
    up: bool
    precision: Any = None

    @nn.compact
    def __call__(self, x, first: bool):
        shortcut = dup_up(x, self.out_dim, 2 if self.temporal else 1, 2, first) if self.up else None
        for j in range(self.num_res_blocks + 1):
            x = ResidualBlock(self.out_dim, self.precision, name=f"resnets_{j}")(x)
        if self.up:
            mode = "upsample3d" if self.temporal else "upsample2d"
            resample = Resample(self.out_dim, mode, self.out_dim, self.precision, name="upsampler")
            x = resample(x, first)
            x = x + shortcut
        return x


class Encoder3d(nn.Module):
    config: WanVAEConfig
    precision: Any = None

    @nn.compact
    def __call__(self, x, first: bool):
        cfg, p = self.config, self.precision
        dims = [cfg.base_dim * m for m in (1,) + cfg.dim_mult]
        last = len(cfg.dim_mult) - 1
        x = CausalConv3d(dims[0], precision=p, name="conv_in")(x)
        index, scale = 0, 1.0
        for i, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            if cfg.is_residual:
                x = ResidualDownBlock(
                    out_dim, cfg.num_res_blocks, cfg.temperal_downsample[i] if i != last else False, i != last, p,
                    name=f"down_blocks_{i}",
                )(x, first)
                continue
            for _ in range(cfg.num_res_blocks):
                x = ResidualBlock(out_dim, p, name=f"down_blocks_{index}")(x)
                index += 1
                if scale in cfg.attn_scales:
                    x = AttentionBlock(p, name=f"down_blocks_{index}")(x)
                    index += 1
            if i != last:
                mode = "downsample3d" if cfg.temperal_downsample[i] else "downsample2d"
                x = Resample(out_dim, mode, precision=p, name=f"down_blocks_{index}")(x, first)
                index += 1
                scale /= 2.0
        x = MidBlock(p, name="mid_block")(x)
        x = nn.silu(RMSNorm(name="norm_out")(x))
        return CausalConv3d(2 * cfg.z_dim, precision=p, name="conv_out")(x)


class Decoder3d(nn.Module):
    config: WanVAEConfig
    precision: Any = None

    @nn.compact
    def __call__(self, x, first: bool):
        cfg, p = self.config, self.precision
        dims = [cfg.decoder_dim * m for m in (cfg.dim_mult[-1],) + cfg.dim_mult[::-1]]
        temporal_up = cfg.temperal_downsample[::-1]
        last = len(cfg.dim_mult) - 1
        x = CausalConv3d(dims[0], precision=p, name="conv_in")(x)
        x = MidBlock(p, name="mid_block")(x)
        for i, out_dim in enumerate(dims[1:]):
            up = i != last
            if cfg.is_residual:
                x = ResidualUpBlock(
                    out_dim, cfg.num_res_blocks, temporal_up[i] if up else False, up, p, name=f"up_blocks_{i}"
                )(x, first)
            else:
                mode = None if not up else ("upsample3d" if temporal_up[i] else "upsample2d")
                x = UpBlock(out_dim, cfg.num_res_blocks, mode, p, name=f"up_blocks_{i}")(x, first)
        x = nn.silu(RMSNorm(name="norm_out")(x))
        return CausalConv3d(cfg.out_channels, precision=p, name="conv_out")(x)


class WanVAEModule(nn.Module):
    """The VAE as a Flax module over channels-last, already patchified chunks.

    `encode_chunk` returns the posterior moments (mean and log-variance, 2*z_dim channels);
    `decode_chunk` returns the patchified video. Run them with ``mutable=["cache"]`` (see `WanVAE`).
    """

    config: WanVAEConfig
    precision: Any = None

    def setup(self):
        z = self.config.z_dim
        self.encoder = Encoder3d(self.config, self.precision)
        self.quant_conv = CausalConv3d(2 * z, (1, 1, 1), padding=(0, 0, 0), precision=self.precision)
        self.post_quant_conv = CausalConv3d(z, (1, 1, 1), padding=(0, 0, 0), precision=self.precision)
        self.decoder = Decoder3d(self.config, self.precision)

    def encode_chunk(self, x, first: bool):
        return self.quant_conv(self.encoder(x, first))

    def decode_chunk(self, z, first: bool):
        return self.decoder(self.post_quant_conv(z), first)

    def __call__(self, x, z):
        return self.encode_chunk(x, False), self.decode_chunk(z, False)


# --------------------------------------------------------------------------------------------------
# Layout helpers (NCTHW)
# --------------------------------------------------------------------------------------------------


def patchify(x, patch: int):
    """(B, C, T, H, W) -> (B, C*p*p, T, H/p, W/p); channel = c*p*p + dw*p + dh (the reference order)."""
    if patch == 1:
        return x
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t, h // patch, patch, w // patch, patch)
    x = x.transpose(0, 1, 6, 4, 2, 3, 5)
    return x.reshape(b, c * patch * patch, t, h // patch, w // patch)


def unpatchify(x, patch: int):
    """Inverse of `patchify`."""
    if patch == 1:
        return x
    b, cp, t, h, w = x.shape
    c = cp // (patch * patch)
    x = x.reshape(b, c, patch, patch, t, h, w)
    x = x.transpose(0, 1, 4, 5, 3, 6, 2)
    return x.reshape(b, c, t, h * patch, w * patch)


def _to_channels_last(x):
    return jnp.transpose(x, (0, 2, 3, 4, 1))


def _to_channels_first(x):
    return jnp.transpose(x, (0, 4, 1, 2, 3))


# --------------------------------------------------------------------------------------------------
# The user-facing VAE
# --------------------------------------------------------------------------------------------------


def _precision(value: Any) -> Any:
    if value is None or isinstance(value, jax.lax.Precision):
        return value
    return jax.lax.Precision[str(value).upper()]


def _encode_step(module, dtype, params, cache, chunk, first):
    variables = {"params": params} if cache is None else {"params": params, "cache": cache}
    x = _to_channels_last(patchify(chunk.astype(dtype), module.config.patch))
    moments, state = module.apply(variables, x, first, method="encode_chunk", mutable=["cache"])
    mean = moments[..., : module.config.z_dim]
    return _to_channels_first(mean), state["cache"]


def _decode_step(module, dtype, params, cache, latent, first):
    variables = {"params": params} if cache is None else {"params": params, "cache": cache}
    z = _to_channels_last(latent.astype(dtype))
    y, state = module.apply(variables, z, first, method="decode_chunk", mutable=["cache"])
    video = unpatchify(_to_channels_first(y), module.config.patch)
    if module.config.clip_output:
        video = jnp.clip(video, -1.0, 1.0)
    return video, state["cache"]


@functools.lru_cache(maxsize=None)
def _compiled_steps(config: WanVAEConfig, dtype: Any, precision: Any, compiler_options: tuple = ()):
    """Jitted (first chunk, next chunk) steps of encode and decode, shared by every VAE with this config.

    A first step maps (params, chunk) -> (output, cache); a next step (params, cache, chunk) ->
    (output, cache), donating the old cache on accelerators.
    """
    module = WanVAEModule(config, precision)
    donate = ("cache",) if jax.default_backend() != "cpu" else ()
    jit = functools.partial(jax.jit, compiler_options=dict(compiler_options) or None)

    def encode_first(params, chunk):
        return _encode_step(module, dtype, params, None, chunk, True)

    def encode_next(params, cache, chunk):
        return _encode_step(module, dtype, params, cache, chunk, False)

    def decode_first(params, latent):
        return _decode_step(module, dtype, params, None, latent, True)

    def decode_next(params, cache, latent):
        return _decode_step(module, dtype, params, cache, latent, False)

    return (
        jit(encode_first),
        jit(encode_next, donate_argnames=donate),
        jit(decode_first),
        jit(decode_next, donate_argnames=donate),
    )


class WanVAE:
    """A Wan VAE with weights: `encode(video) -> latent mean`, `decode(latents) -> video` (NCTHW).

    Video values are in [-1, 1]. `encode` returns the posterior mean (diffusers'
    ``vae.encode(x).latent_dist.mean``), un-normalised; `normalize_latents` / `denormalize_latents`
    apply the config's per-channel statistics the way the Wan pipelines do.

    `dtype` is the compute and storage dtype ("float32" or "bfloat16"). `precision` is passed to every
    convolution and matmul (None: the backend default; "highest" forces full float32 on GPUs/TPUs).
    `compiler_options` are XLA options for the compiled chunk steps (for example
    ``{"xla_backend_optimization_level": 0}`` compiles tiny test models on CPU about twice as fast).
    VAEs with the same config, dtype, precision and options share their compiled steps.
    """

    def __init__(
        self,
        config: WanVAEConfig | Mapping[str, Any],
        params: Mapping,
        *,
        dtype: Any = "float32",
        precision: Any = None,
        compiler_options: Mapping[str, Any] | None = None,
    ):
        if not isinstance(config, WanVAEConfig):
            config = WanVAEConfig.from_dict(config)
        self.config = config
        self.dtype = resolve_dtype(dtype)
        self.precision = _precision(precision)
        self.module = WanVAEModule(config, self.precision)
        self.params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, self.dtype), dict(params))
        options = tuple(sorted((compiler_options or {}).items()))
        # Latent statistics play no part in encode/decode: VAEs differing only there share compiled steps.
        arch = dataclasses.replace(config, latents_mean=None, latents_std=None)
        steps = _compiled_steps(arch, self.dtype, self.precision, options)
        self._encode_first, self._encode_next, self._decode_first, self._decode_next = steps

    # ---- construction ----

    @staticmethod
    def param_shapes(config: WanVAEConfig) -> dict:
        """The parameter tree (as ShapeDtypeStructs) of a config, without computing anything."""
        module = WanVAEModule(config)
        s, p = config.spatial_factor, config.patch
        x = jax.ShapeDtypeStruct((1, ENCODE_CHUNK_FRAMES, s // p, s // p, config.in_channels), jnp.float32)
        z = jax.ShapeDtypeStruct((1, 1, 1, 1, config.z_dim), jnp.float32)
        return jax.eval_shape(lambda a, b: module.init(jax.random.PRNGKey(0), a, b), x, z)["params"]

    @classmethod
    def from_config(cls, config: WanVAEConfig | Mapping[str, Any], seed: int = 0, **kwargs) -> "WanVAE":
        """Randomly initialised VAE (tests, shape checks; host-side init). kwargs go to the constructor."""
        if not isinstance(config, WanVAEConfig):
            config = WanVAEConfig.from_dict(config)
        rng = np.random.default_rng(seed)

        def init(path, shape):
            name = path[-1].key
            if name == "kernel":
                fan_in = int(np.prod(shape.shape[:-1]))
                return (rng.standard_normal(shape.shape) / np.sqrt(fan_in)).astype(np.float32)
            if name == "gamma":
                return np.ones(shape.shape, np.float32)
            return np.zeros(shape.shape, np.float32)

        params = jax.tree_util.tree_map_with_path(init, cls.param_shapes(config))
        return cls(config, params, **kwargs)

    @classmethod
    def from_torch_state_dict(
        cls,
        config: WanVAEConfig | Mapping[str, Any],
        state_dict: Mapping[str, Any],
        *,
        dtype: Any = "float32",
        **kwargs,
    ) -> "WanVAE":
        """From an in-memory diffusers `AutoencoderKLWan.state_dict()` (torch tensors or arrays)."""
        from mimicjax.translate.wan.vae_convert import vae_params_from_state_dict

        if not isinstance(config, WanVAEConfig):
            config = WanVAEConfig.from_dict(config)
        params = vae_params_from_state_dict(state_dict, cls.param_shapes(config), resolve_dtype(dtype))
        return cls(config, params, dtype=dtype, **kwargs)

    # ---- public API ----

    def encode(self, video) -> jax.Array:
        """(B, C, 1+4k, H, W) video in [-1, 1] -> (B, z_dim, 1+k, H/s, W/s) latent mean (s = spatial factor)."""
        video = jnp.asarray(video)
        cfg = self.config
        if video.ndim != 5:
            raise ValueError(
                f"encode expects a (batch, channels, frames, height, width) video, got shape {video.shape}"
            )
        b, c, t, h, w = video.shape
        if c != cfg.video_channels:
            raise ValueError(
                f"encode expects {cfg.video_channels} video channels (NCTHW layout), got shape {video.shape}"
            )
        if (t - 1) % ENCODE_CHUNK_FRAMES:
            raise ValueError(
                f"the Wan VAE encodes 1 + 4k frames (1, 5, 9, ..., 81); got {t}. Trim or pad the video "
                f"to {1 + ENCODE_CHUNK_FRAMES * ((t - 1) // ENCODE_CHUNK_FRAMES)} or "
                f"{1 + ENCODE_CHUNK_FRAMES * (-(-(t - 1) // ENCODE_CHUNK_FRAMES))} frames."
            )
        s = cfg.spatial_factor
        if h % s or w % s:
            raise ValueError(f"height and width must be multiples of {s} for this VAE, got {h}x{w}")
        out, cache = self._encode_first(self.params, video[:, :, :1])
        outs = [out]
        for start in range(1, t, ENCODE_CHUNK_FRAMES):
            out, cache = self._encode_next(self.params, cache, video[:, :, start : start + ENCODE_CHUNK_FRAMES])
            outs.append(out)
        return jnp.concatenate(outs, axis=2) if len(outs) > 1 else outs[0]

    def decode(self, latents) -> jax.Array:
        """(B, z_dim, T, h, w) latents (un-normalised) -> (B, C, 1+4(T-1), h*s, w*s) video in [-1, 1]."""
        latents = jnp.asarray(latents)
        cfg = self.config
        if latents.ndim != 5 or latents.shape[1] != cfg.z_dim:
            raise ValueError(
                f"decode expects (batch, {cfg.z_dim}, frames, height, width) latents, got shape {latents.shape}"
            )
        t = latents.shape[2]
        out, cache = self._decode_first(self.params, latents[:, :, :1])
        outs = [out]
        for i in range(1, t):
            out, cache = self._decode_next(self.params, cache, latents[:, :, i : i + 1])
            outs.append(out)
        return jnp.concatenate(outs, axis=2) if len(outs) > 1 else outs[0]

    def _latent_stats(self, latents):
        cfg = self.config
        if cfg.latents_mean is None or cfg.latents_std is None:
            raise ValueError("this VAE's config has no latents_mean / latents_std; cannot (de)normalise latents")
        shape = (1, cfg.z_dim) + (1,) * (latents.ndim - 2)
        mean = jnp.asarray(cfg.latents_mean, jnp.float32).reshape(shape)
        inv_std = 1.0 / jnp.asarray(cfg.latents_std, jnp.float32).reshape(shape)
        return mean, inv_std

    def normalize_latents(self, latents) -> jax.Array:
        """(z - latents_mean) / latents_std per channel (axis 1): what the diffusion model sees."""
        latents = jnp.asarray(latents)
        mean, inv_std = self._latent_stats(latents)
        return ((latents.astype(jnp.float32) - mean) * inv_std).astype(latents.dtype)

    def denormalize_latents(self, latents) -> jax.Array:
        """Inverse of `normalize_latents`: z * latents_std + latents_mean, ready for `decode`."""
        latents = jnp.asarray(latents)
        mean, inv_std = self._latent_stats(latents)
        return (latents.astype(jnp.float32) / inv_std + mean).astype(latents.dtype)


def load_diffusers_vae(path: str | Path, *, dtype: Any = "float32", **kwargs) -> WanVAE:
    """Load a diffusers `AutoencoderKLWan` folder (Wan 2.1 or 2.2; fp32 or bf16 weights).

    `path` is the VAE folder or a pipeline folder containing ``vae/``. Weights are streamed tensor by
    tensor and cast to `dtype`; kwargs (`precision`, `compiler_options`) go to `WanVAE`.
    A single weight file in the original Wan layout (``Wan2.1_VAE.pth``, ``Wan2.2_VAE.pth`` or their
    .safetensors) is passed on to `load_original_vae`.
    """
    from mimicjax.translate.wan.vae_convert import vae_params_from_tensors

    if Path(path).is_file():
        return load_original_vae(path, dtype=dtype, **kwargs)
    folder = component_folder(
        path, "vae", "a diffusers AutoencoderKLWan folder (config.json + diffusion_pytorch_model.safetensors)"
    )
    data = json.loads((folder / "config.json").read_text())
    if data.get("_class_name", "AutoencoderKLWan") != "AutoencoderKLWan":
        raise ValueError(f"{folder / 'config.json'} describes a {data['_class_name']}, not an AutoencoderKLWan")
    config = WanVAEConfig.from_dict(data)
    files = checkpoint_files(folder, (DIFFUSERS_STEM, TRANSFORMERS_STEM))
    expected = WanVAE.param_shapes(config)
    params = vae_params_from_tensors(iter_tensors(files), expected, resolve_dtype(dtype), str(folder))
    return WanVAE(config, params, dtype=dtype, **kwargs)


def load_original_vae(
    path: str | Path,
    config: WanVAEConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    dtype: Any = "float32",
    **kwargs,
) -> WanVAE:
    """Load a VAE saved by the original Wan repository (``Wan2.1_VAE.pth``, ``Wan2.2_VAE.pth``).

    `path` is one weight file with the original key names (``encoder.downsamples.0.residual.0.gamma``,
    ``decoder.upsamples...``, ``conv1``/``conv2`` for the quant convolutions): ``.safetensors`` is read
    directly and streamed; ``.pth``/``.pt`` needs torch (imported only then) and is memory-mapped.
    `config` is a `WanVAEConfig`, a diffusers-style config dict or a config.json path; by default the
    architecture is read from the tensor shapes (Wan 2.1 or 2.2 layout; the released models also get
    their published latent statistics). kwargs (`precision`, `compiler_options`) go to `WanVAE`.
    """
    from mimicjax.translate.wan.vae_convert import (
        is_original_vae_layout,
        original_vae_config,
        original_vae_params_from_tensors,
    )

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no VAE weight file at {path}")
    shapes = tensor_shapes([path], allow_torch=True)
    if not is_original_vae_layout(shapes):
        odd = sorted(k for k in shapes if not is_original_vae_layout([k]))[:5]
        raise ValueError(
            f"{path} is not a Wan VAE in the original repository's layout (e.g. keys {odd}); a diffusers "
            "AutoencoderKLWan is loaded from its folder (config.json + safetensors) with load_diffusers_vae"
        )
    if config is None:
        config = WanVAEConfig.from_dict(original_vae_config(shapes))
    elif isinstance(config, (str, Path)):
        config = WanVAEConfig.from_dict(json.loads(Path(config).read_text()))
    elif not isinstance(config, WanVAEConfig):
        config = WanVAEConfig.from_dict(config)
    params = original_vae_params_from_tensors(
        iter_tensors([path], allow_torch=True),
        WanVAE.param_shapes(config),
        config.num_res_blocks,
        resolve_dtype(dtype),
        str(path),
    )
    return WanVAE(config, params, dtype=dtype, **kwargs)


__all__ = [
    "WanVAEConfig",
    "WanVAEModule",
    "WanVAE",
    "load_diffusers_vae",
    "load_original_vae",
    "patchify",
    "unpatchify",
    "avg_down",
    "dup_up",
]
