"""Human video -> robot video: the in-context translation pipeline of H2R-Grounder.

condition video (H2Rep: person removed, gripper cue drawn) --VAE encode--> condition latents
noise --(Wan DiT with the condition tokens appended, timestep 0 for them; flow-matching sampler with
classifier-free guidance on the text)--> target latents --VAE decode--> robot video.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.translate import flow
from mimicjax.translate.wan.configs import WanConfig
from mimicjax.translate.wan.transformer import WanModel, WanTransformer

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


@functools.lru_cache(maxsize=16)
def compiled_sampler(
    model_config: WanConfig, lora_scale: float, config: SampleConfig, guided: bool, compiler_options: tuple = ()
):
    """The jitted sampler `(params, lora, condition_latents, text, negative, key) -> target latents`.

    Everything large is an argument (parameters, adapter, condition latents, text embeddings), never a
    constant of the program, so one compiled sampler serves any weights of this architecture and a 5B
    model is not copied into the executable. `lora` may be None; `negative` is ignored unless `guided`.
    """
    module = WanTransformer(model_config, lora_scale=lora_scale)

    def run(params, lora, condition_latents, text, negative, key):
        variables = {"params": params} if lora is None else {"params": params, "lora": lora}

        def model_fn(x, t, context):
            condition = jnp.broadcast_to(condition_latents, (x.shape[0],) + condition_latents.shape[1:])
            return module.apply(variables, x, t, context, condition)

        denoise = flow.guided_denoiser(model_fn, text, negative if guided else None, config.guidance_scale)
        noise = jax.random.normal(key, condition_latents.shape, jnp.float32)
        return flow.sample(denoise, noise, steps=config.steps, shift=config.shift, solver=config.solver)

    return jax.jit(run, compiler_options=dict(compiler_options) or None)


def translate_latents(
    model,
    condition_latents: jnp.ndarray,
    text_embeddings: jnp.ndarray,
    negative_embeddings: jnp.ndarray | None = None,
    config: SampleConfig = SampleConfig(),
    lora=None,
) -> jnp.ndarray:
    """Sample target latents (normalised, like `condition_latents`) for one condition clip.

    With guidance (`config.guidance_scale != 1`) `negative_embeddings` is the unconditional branch and
    must be what the model saw without its prompt: the empty-prompt embedding text dropout trained with.
    """
    guided = config.guidance_scale != 1.0
    if guided and negative_embeddings is None:
        raise ValueError(
            f"classifier-free guidance (guidance scale {config.guidance_scale:g}) needs the empty-prompt embedding "
            "as negative_embeddings (what fine-tuning drops the prompt to); give it, or set the guidance scale to 1"
        )
    lora = lora if lora is not None else model.lora
    options = tuple(sorted((getattr(model, "compiler_options", None) or {}).items()))
    # The seed only picks the key: one compiled sampler serves every seed.
    sampler = compiled_sampler(model.config, model.lora_scale, dataclasses.replace(config, seed=0), guided, options)
    negative = negative_embeddings if guided else text_embeddings
    return sampler(model.params, lora, condition_latents, text_embeddings, negative, jax.random.PRNGKey(config.seed))


def with_adapter(model: WanModel, path: str | Path) -> WanModel:
    """`model` with the adapter file at `path`: its LoRA and, when the file carries them (`translate
    finetune` saves them), the fine-tuned condition patch embedding and the transformer options it was
    trained with."""
    from mimicjax.translate.lora import load_adapter_extras, load_lora
    from mimicjax.translate.wan.transformer import with_condition_embedding, without_condition_embedding

    lora, lora_config = load_lora(path)
    embedding, options = load_adapter_extras(path)
    config = model.config.replace(**options, separate_condition_embedding=embedding is not None)
    params = without_condition_embedding(model.params)
    if embedding is not None:
        params = with_condition_embedding(params, embedding)
    return WanModel(config, params, lora, lora_config.scale, model.compiler_options)


def as_batch(embeddings) -> jnp.ndarray:
    """Prompt embeddings [S, D] or [1, S, D] as a float32 batch of one [1, S, D]."""
    embeddings = jnp.asarray(embeddings, jnp.float32)
    return embeddings[None] if embeddings.ndim == 2 else embeddings


def decode_latents(vae, latents: jnp.ndarray) -> np.ndarray:
    """Latents as the transformer sees them (normalised when the VAE has statistics) -> uint8 frames."""
    if vae.config.latents_mean is not None:
        latents = vae.denormalize_latents(latents)
    return model_output_to_video(vae.decode(latents))


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
    if vae.config.latents_mean is not None:
        latents = vae.normalize_latents(latents)
    if latents.shape[1] != model.config.in_channels:
        raise ValueError(
            f"the VAE makes {latents.shape[1]}-channel latents but the transformer expects "
            f"{model.config.in_channels}; pair a Wan 2.2 VAE with TI2V-5B, a Wan 2.1 VAE with Wan 2.1"
        )
    negative = None if negative_embeddings is None else as_batch(negative_embeddings)
    out = translate_latents(model, latents, as_batch(text_embeddings), negative, config, lora)
    return decode_latents(vae, out)


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
