"""`translate fit-vae`: the differentiable reconstruction is the VAE's own encode/decode, fitting lowers the
loss and sets latent statistics, and the saved folder loads back exactly (and into diffusers)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.translate.wan import vae as vae_lib
from mimicjax.translate.wan import vae_fit
from tests.translate.conftest import FAST_COMPILE


def test_reconstruct_is_encode_then_decode():
    vae = vae_lib.WanVAE.from_config(vae_lib.preset("tiny"), seed=1, compiler_options=FAST_COMPILE)
    video = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, 3, 5, 16, 16)).astype(np.float32))
    reconstruct = jax.jit(functools.partial(vae_fit.reconstruct, vae_lib.WanVAEModule(vae.config)),
                          compiler_options=FAST_COMPILE)
    np.testing.assert_allclose(np.asarray(reconstruct(vae.params, video)), np.asarray(vae.decode(vae.encode(video))),
                               atol=1e-5)


@pytest.mark.slow
def test_fitting_lowers_the_loss_and_the_folder_loads_back(tmp_path):
    rng = np.random.default_rng(0)
    videos = np.repeat(rng.integers(0, 256, (2, 1, 8, 8, 3), dtype=np.uint8), 16, axis=2).repeat(2, axis=3)
    videos = np.repeat(videos, 5, axis=1)  # two clips of 5 frames, 16x16 blocks of colour
    losses = []
    vae = vae_fit.fit_vae(vae_lib.preset("tiny"), videos, steps=6, batch=2, crop=8, frames=5, learning_rate=5e-3,
                          show_progress=False, on_step=lambda step, loss: losses.append(loss),
                          compiler_options=FAST_COMPILE)
    assert losses[-1] < losses[0]
    assert len(vae.config.latents_mean) == vae.config.z_dim and min(vae.config.latents_std) > 0
    folder = vae_fit.save_diffusers_vae(vae, tmp_path / "vae")
    loaded = vae_lib.load_diffusers_vae(folder)
    assert loaded.config == vae.config
    for a, b in zip(jax.tree.leaves(vae.params), jax.tree.leaves(loaded.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="multiples of 8"):
        vae_fit.fit_vae(vae_lib.preset("tiny"), videos, steps=1, crop=12)


def test_the_saved_folder_is_a_diffusers_vae(tmp_path):
    pytest.importorskip("torch")
    AutoencoderKLWan = pytest.importorskip("diffusers").AutoencoderKLWan
    vae = vae_lib.WanVAE.from_config(vae_lib.preset("tiny"), seed=2)
    folder = vae_fit.save_diffusers_vae(vae, tmp_path / "vae")
    AutoencoderKLWan.from_pretrained(folder)  # strict: every tensor's name and shape must fit
