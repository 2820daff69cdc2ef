"""Wan 2.x models in JAX: the diffusion transformer (and its loaders), the VAE and the text encoder.

    from mimicjax.translate.wan import load_diffusers_transformer
    model = load_diffusers_transformer("Wan2.2-TI2V-5B-Diffusers/transformer")
    velocity = model(latents, timestep, text_embeddings)      # NCTHW, like diffusers' `.sample`
"""

from __future__ import annotations

from mimicjax.translate.wan.configs import PRESETS, WanConfig, preset
from mimicjax.translate.wan.convert import (
    load_diffusers_transformer,
    load_original_transformer,
    load_transformer_params,
)
from mimicjax.translate.wan.transformer import WanModel, WanTransformer, abstract_params, init_params


def load_diffusers_vae(*args, **kwargs):
    """Load a diffusers-format Wan VAE (see `mimicjax.translate.wan.vae.load_diffusers_vae`)."""
    from mimicjax.translate.wan.vae import load_diffusers_vae as _load

    return _load(*args, **kwargs)


def load_original_vae(*args, **kwargs):
    """Load a Wan VAE file in the original repository's layout (see `mimicjax.translate.wan.vae.load_original_vae`)."""
    from mimicjax.translate.wan.vae import load_original_vae as _load

    return _load(*args, **kwargs)


__all__ = [
    "PRESETS",
    "WanConfig",
    "WanModel",
    "WanTransformer",
    "abstract_params",
    "init_params",
    "load_diffusers_transformer",
    "load_diffusers_vae",
    "load_original_transformer",
    "load_original_vae",
    "load_transformer_params",
    "preset",
]
