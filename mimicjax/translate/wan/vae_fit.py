"""A small Wan VAE fitted to a dataset: a working codec for CPU runs of the random-weight translator.

Real runs use a released Wan VAE. At tiny sizes there is none, and a VAE with random weights decodes its
own latents to noise (about 10 dB PSNR on the rendered clips), so nothing measured on decoded videos
would mean anything. `fit_vae` trains a preset's architecture as a plain autoencoder: the posterior mean
is the latent, the loss is the mean squared error of the decoded video, on random crops of the dataset's
videos (the VAE is convolutional, so crops teach it the full frames at a fraction of the cost). It then
sets the latent statistics (`latents_mean`, `latents_std`) from the data so that normalised latents have
unit scale, as the released VAEs' do. `save_diffusers_vae` writes a diffusers `AutoencoderKLWan` folder,
which `--vae` reads everywhere (and diffusers loads).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.translate.wan import vae as vae_lib

STATISTICS_VIDEOS = 32  # videos the latent statistics are measured on


def reconstruct(module, params, video: jnp.ndarray) -> jnp.ndarray:
    """decode(encode(video)) as one differentiable function of `params` (NCTHW in [-1, 1], 1 + 4k frames):
    the chunks `WanVAE.encode` / `decode` run one by one, unrolled."""
    step = vae_lib.ENCODE_CHUNK_FRAMES
    latent, cache = vae_lib._encode_step(module, jnp.float32, params, None, video[:, :, :1], True)
    latents = [latent]
    for start in range(1, video.shape[2], step):
        latent, cache = vae_lib._encode_step(module, jnp.float32, params, cache, video[:, :, start:start + step], False)
        latents.append(latent)
    z = jnp.concatenate(latents, axis=2)
    out, cache = vae_lib._decode_step(module, jnp.float32, params, None, z[:, :, :1], True)
    outs = [out]
    for i in range(1, z.shape[2]):
        out, cache = vae_lib._decode_step(module, jnp.float32, params, cache, z[:, :, i:i + 1], False)
        outs.append(out)
    return jnp.concatenate(outs, axis=2)


def random_crops(videos: np.ndarray, rng: np.random.Generator, batch: int, crop: int, frames: int) -> np.ndarray:
    """`batch` random windows (a clip, `frames` consecutive frames, a `crop` x `crop` square) of uint8
    videos [N, T, H, W, 3], as float32 NCTHW in [-1, 1]."""
    n, t, h, w, _ = videos.shape
    out = np.empty((batch, frames, crop, crop, 3), np.uint8)
    for b in range(batch):
        i, start = rng.integers(n), rng.integers(t - frames + 1)
        top, left = rng.integers(h - crop + 1), rng.integers(w - crop + 1)
        out[b] = videos[i, start:start + frames, top:top + crop, left:left + crop]
    return out.astype(np.float32).transpose(0, 4, 1, 2, 3) / 127.5 - 1.0


def latent_statistics(vae: vae_lib.WanVAE, videos: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of the (un-normalised) latents of uint8 videos [N, T, H, W, 3]."""
    latents = [np.asarray(vae.encode(jnp.asarray(v.astype(np.float32).transpose(3, 0, 1, 2)[None] / 127.5 - 1.0)))
               for v in videos]
    flat = np.concatenate([z.transpose(1, 0, 2, 3, 4).reshape(z.shape[1], -1) for z in latents], axis=1)
    return flat.mean(axis=1).tolist(), np.maximum(flat.std(axis=1), 1e-6).tolist()


def fit_vae(config: vae_lib.WanVAEConfig, videos: np.ndarray, *, steps: int, batch: int = 4, crop: int = 32,
            frames: int = 5, learning_rate: float = 2e-3, seed: int = 0, show_progress: bool = True,
            on_step=None, compiler_options=None) -> vae_lib.WanVAE:
    """Train `config`'s architecture from random weights to reconstruct uint8 videos [N, T, H, W, 3]
    (Adam, cosine decay, `steps` batches of random crops); returns the VAE with its latent statistics
    (measured on the first `STATISTICS_VIDEOS` videos). `on_step(step, loss)` sees every step;
    `compiler_options` are XLA options of the training step and the returned VAE."""
    import optax

    from mimicjax.train.run_log import progress

    n, t, h, w, _ = videos.shape
    s = config.spatial_factor
    if crop % s or crop > min(h, w) or (frames - 1) % vae_lib.ENCODE_CHUNK_FRAMES or frames > t:
        raise ValueError(f"crops must be multiples of {s} no larger than the {w}x{h} frames and 1 + 4k frames no "
                         f"longer than the {t} of the clips; got {crop} px and {frames} frames")
    config = dataclasses.replace(config, latents_mean=None, latents_std=None)
    module = vae_lib.WanVAEModule(config)
    params = vae_lib.WanVAE.from_config(config, seed=seed).params
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.05))

    @functools.partial(jax.jit, compiler_options=compiler_options)
    def train_step(params, opt_state, video):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((reconstruct(module, p, video) - video) ** 2))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    opt_state = optimizer.init(params)
    bar = progress(range(steps), total=steps, desc="fit VAE", force=show_progress)
    for step in bar:
        params, opt_state, loss = train_step(params, opt_state, jnp.asarray(random_crops(videos, rng, batch, crop, frames)))
        if on_step is not None:
            on_step(step, float(loss))
        if step % 20 == 0:
            bar.set_postfix_str(f"mse {float(loss):.4f}")
    fitted = vae_lib.WanVAE(config, params, compiler_options=compiler_options)
    mean, std = latent_statistics(fitted, videos[:STATISTICS_VIDEOS])
    return vae_lib.WanVAE(dataclasses.replace(config, latents_mean=mean, latents_std=std), params,
                          compiler_options=compiler_options)


def diffusers_key(path: tuple[str, ...]) -> str:
    """The diffusers name of a Flax parameter path (the inverse of `vae_convert.vae_key_to_path`)."""
    key = ".".join(re.sub(r"_(\d+)$", r".\1", name) for name in path)
    return re.sub(r"\.kernel$", ".weight", key)


def torch_layout(key: str, array: np.ndarray) -> np.ndarray:
    """A Flax array in diffusers' layout (the inverse of `vae_convert.torch_conv_to_flax`): kernels
    (D)HWIO -> OI(D)HW, RMS-norm scales (C,) -> (C, 1, 1) in attention, (C, 1, 1, 1) elsewhere."""
    if key.endswith(".weight"):
        return np.transpose(array, {5: (4, 3, 0, 1, 2), 4: (3, 2, 0, 1), 2: (1, 0)}.get(array.ndim, range(array.ndim)))
    if key.endswith(".gamma"):
        return array.reshape(array.shape + ((1, 1) if ".attentions." in key else (1, 1, 1)))
    return array


def save_diffusers_vae(vae: vae_lib.WanVAE, folder: str | Path) -> Path:
    """Write `vae` as a diffusers `AutoencoderKLWan` folder (config.json + diffusion_pytorch_model.safetensors),
    atomically."""
    from safetensors.numpy import save_file

    from mimicjax.io_utils import atomic_dir
    from mimicjax.translate.wan.checkpoint_io import DIFFUSERS_STEM

    flat = jax.tree_util.tree_flatten_with_path(vae.params)[0]
    tensors = {}
    for path, leaf in flat:
        key = diffusers_key(tuple(p.key for p in path))
        tensors[key] = np.ascontiguousarray(torch_layout(key, np.asarray(leaf, np.float32)))
    config = {"_class_name": "AutoencoderKLWan", **vae.config.to_dict()}
    with atomic_dir(folder, overwrite=True) as tmp:
        save_file(tensors, str(Path(tmp) / f"{DIFFUSERS_STEM}.safetensors"))
        (Path(tmp) / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return Path(folder)
