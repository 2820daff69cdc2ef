"""Human video -> robot video: the in-context translation pipeline of H2R-Grounder.

condition video (H2Rep: person removed, gripper cue drawn) --VAE encode--> condition latents
noise --(Wan DiT with the condition tokens appended, timestep 0 for them; flow-matching sampler with
classifier-free guidance on the text)--> target latents --VAE decode--> robot video.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.translate import flow

DEFAULT_PROMPT = "A robotic arm is interacting with objects."


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    steps: int = 30
    shift: float = 5.0
    guidance_scale: float = 5.0
    solver: str = "unipc"
    seed: int = 0


def video_to_model_input(frames: np.ndarray, spatial_multiple: int, temporal_multiple: int = 4) -> np.ndarray:
    """uint8 [T, H, W, 3] -> float32 [1, 3, T', H', W'] in [-1, 1]: the first 1 + 4k frames and a centre
    crop to multiples of `spatial_multiple` (the VAE's compression times the transformer's patch)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected video frames [T, H, W, 3], got shape {frames.shape}")
    t, h, w, _ = frames.shape
    keep_t = 1 + temporal_multiple * ((t - 1) // temporal_multiple)
    keep_h, keep_w = h - h % spatial_multiple, w - w % spatial_multiple
    if keep_h == 0 or keep_w == 0:
        raise ValueError(f"video of {h}x{w} pixels is smaller than one {spatial_multiple}x{spatial_multiple} latent patch")
    top, left = (h - keep_h) // 2, (w - keep_w) // 2
    frames = frames[:keep_t, top : top + keep_h, left : left + keep_w]
    video = frames.astype(np.float32) / 127.5 - 1.0
    return video.transpose(3, 0, 1, 2)[None]


def model_output_to_video(video: jnp.ndarray) -> np.ndarray:
    """[1, 3, T, H, W] in [-1, 1] -> uint8 [T, H, W, 3]."""
    video = np.asarray(jnp.clip(video[0].astype(jnp.float32), -1, 1))
    return np.round((video.transpose(1, 2, 3, 0) + 1.0) * 127.5).astype(np.uint8)


def translate_latents(
    model,
    condition_latents: jnp.ndarray,
    text_embeddings: jnp.ndarray,
    negative_embeddings: jnp.ndarray | None = None,
    config: SampleConfig = SampleConfig(),
    lora=None,
) -> jnp.ndarray:
    """Sample target latents (normalised, like `condition_latents`) for one condition clip."""
    params = model.params

    def model_fn(x, t, context):
        cond = jnp.broadcast_to(condition_latents, (x.shape[0],) + condition_latents.shape[1:])
        return model.apply(params, x, t, context, condition=cond, lora=lora if lora is not None else model.lora)

    denoise = flow.guided_denoiser(model_fn, text_embeddings, negative_embeddings, config.guidance_scale)

    def run(key):
        noise = jax.random.normal(key, condition_latents.shape, jnp.float32)
        return flow.sample(denoise, noise, steps=config.steps, shift=config.shift, solver=config.solver)

    options = getattr(model, "compiler_options", None) or None
    return jax.jit(run, compiler_options=options)(jax.random.PRNGKey(config.seed))


def translate_video(
    model,
    vae,
    frames: np.ndarray,
    text_embeddings,
    negative_embeddings=None,
    config: SampleConfig = SampleConfig(),
    lora=None,
) -> np.ndarray:
    """uint8 condition frames [T, H, W, 3] -> uint8 translated frames."""
    patch = model.config.patch_size
    video = video_to_model_input(frames, vae.config.spatial_factor * patch[1], vae.config.temporal_factor)
    latents = vae.encode(jnp.asarray(video))
    normalise = vae.config.latents_mean is not None
    if normalise:
        latents = vae.normalize_latents(latents)
    if latents.shape[1] != model.config.in_channels:
        raise ValueError(
            f"the VAE makes {latents.shape[1]}-channel latents but the transformer expects "
            f"{model.config.in_channels}; pair a Wan 2.2 VAE with TI2V-5B, a Wan 2.1 VAE with Wan 2.1"
        )
    text = jnp.asarray(text_embeddings, jnp.float32)
    if text.ndim == 2:
        text = text[None]
    negative = None
    if negative_embeddings is not None:
        negative = jnp.asarray(negative_embeddings, jnp.float32)
        negative = negative[None] if negative.ndim == 2 else negative
    out = translate_latents(model, latents, text, negative, config, lora)
    if normalise:
        out = vae.denormalize_latents(out)
    return model_output_to_video(vae.decode(out))


def load_text_embeddings(path: str | Path) -> np.ndarray:
    """[S, text_dim] or [1, S, text_dim] prompt embeddings from .npy (or the first array of an .npz)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no text embeddings at {path}")
    try:
        data: Any = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            data = data[data.files[0]]
        return np.asarray(data, np.float32)
    except (ValueError, OSError, IndexError, TypeError) as error:
        raise ValueError(f"{path}: not a .npy/.npz array of prompt embeddings ({error}); or pass "
                         f"--text-encoder DIR --prompt TEXT instead") from None
