"""The Flax Wan transformer against diffusers' WanTransformer3DModel (tiny random config, float32).

Tolerance: |flax - diffusers| <= 2e-5 + 1e-5 * |diffusers| elementwise, on outputs of magnitude ~1-5
(observed max error ~2e-6).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.translate.conftest import FAST_COMPILE, random_inputs, reference_forward

torch = pytest.importorskip("torch")

ATOL, RTOL = 2e-5, 1e-5


@pytest.mark.parametrize(
    "batch,frames,height,width,text_len,per_token",
    [
        (1, 1, 4, 4, 3, False),
        (1, 3, 4, 6, 7, False),
        (2, 2, 6, 4, 5, True),
        (2, 1, 8, 8, 3, True),
        (2, 2, 5, 7, 4, False),  # odd height/width: the last row/column is dropped, like Conv3d
    ],
)
def test_matches_diffusers(reference, tiny_model, tiny_config, batch, frames, height, width, text_len, per_token):
    x, t, context = random_inputs(tiny_config, batch, frames, height, width, text_len, per_token, seed=frames + width)
    expected = reference_forward(reference, x, t, context)
    got = np.asarray(tiny_model(x, t, context))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL)


def test_ti2v_first_frame_mask_matches_diffusers(reference, tiny_model, tiny_config):
    """Wan 2.2 TI2V style per-token timesteps: first-frame tokens at t=0, the rest at t."""
    x, _, context = random_inputs(tiny_config, 2, 3, 4, 4, 6, seed=3)
    tokens_per_frame = 4
    t = np.full((2, 3 * tokens_per_frame), 700.0, np.float32)
    t[:, :tokens_per_frame] = 0.0
    t[1] *= 0.5
    np.testing.assert_allclose(np.asarray(tiny_model(x, t, context)), reference_forward(reference, x, t, context), atol=ATOL, rtol=RTOL)


def _diffusers_in_context(ref, x, cond, t, context):
    """In-context conditioning assembled from diffusers' own modules (the semantics under test)."""
    x_t, c_t, ctx = (torch.from_numpy(a) for a in (x, cond, context))
    batch, _, frames, height, width = x.shape
    p_t, p_h, p_w = ref.config.patch_size
    with torch.no_grad():
        cos_x, sin_x = ref.rope(x_t)
        cos_c, sin_c = ref.rope(c_t)
        h_x = ref.patch_embedding(x_t).flatten(2).transpose(1, 2)
        h_c = ref.patch_embedding(c_t).flatten(2).transpose(1, 2)
        length = h_x.shape[1]
        hidden = torch.cat([h_x, h_c], dim=1)
        rotary = (torch.cat([cos_x, cos_c], dim=1), torch.cat([sin_x, sin_c], dim=1))
        ts = torch.cat([torch.from_numpy(t)[:, None].expand(batch, length), torch.zeros(batch, h_c.shape[1])], dim=1)
        temb, tproj, enc, _ = ref.condition_embedder(ts.flatten(), ctx, None, timestep_seq_len=ts.shape[1])
        tproj = tproj.unflatten(2, (6, -1))
        for block in ref.blocks:
            hidden = block(hidden, enc, tproj, rotary)
        hidden, temb = hidden[:, :length], temb[:, :length]
        shift, scale = (ref.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, dim=2)
        hidden = ref.norm_out(hidden.float()) * (1 + scale.squeeze(2)) + shift.squeeze(2)
        hidden = ref.proj_out(hidden)
        hidden = hidden.reshape(batch, frames // p_t, height // p_h, width // p_w, p_t, p_h, p_w, -1)
        out = hidden.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3)
    return out.numpy()


def test_in_context_condition_matches_diffusers_modules(reference, tiny_model, tiny_config):
    x, t, context = random_inputs(tiny_config, 2, 2, 4, 6, 5, seed=11)
    cond, _, _ = random_inputs(tiny_config, 2, 2, 4, 6, 5, seed=12)
    got = np.asarray(tiny_model(x, t, context, condition=cond))
    expected = _diffusers_in_context(reference, x, cond, t, context)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL)
    # the condition really is attended to
    assert np.abs(got - np.asarray(tiny_model(x, t, context))).max() > 1e-3


def test_separate_condition_embedding(tiny_config, tiny_params):
    from mimicjax.translate.wan.transformer import WanModel, abstract_params

    config = tiny_config.replace(separate_condition_embedding=True)
    assert "condition_embedding" in abstract_params(config)
    params = dict(tiny_params, condition_embedding=tiny_params["patch_embedding"])
    x, t, context = random_inputs(tiny_config, 1, 1, 4, 4, 3, seed=5)
    cond, _, _ = random_inputs(tiny_config, 1, 1, 4, 4, 3, seed=6)
    shared = WanModel(tiny_config, tiny_params, compiler_options=FAST_COMPILE)(x, t, context, condition=cond)
    separate = WanModel(config, params, compiler_options=FAST_COMPILE)(x, t, context, condition=cond)
    np.testing.assert_allclose(np.asarray(separate), np.asarray(shared), atol=1e-6)


def test_bad_inputs_raise_clear_errors(tiny_model, tiny_config):
    x, t, context = random_inputs(tiny_config, 1, 1, 4, 4, 3)
    with pytest.raises(ValueError, match="channels"):
        tiny_model(x[:, :2], t, context)
    with pytest.raises(ValueError, match="per-token timestep"):
        tiny_model(x, np.zeros((1, 3), np.float32), context)
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        tiny_model(x, t, context[..., :5])


def test_bfloat16_compute_close_to_float32(tiny_config, tiny_params, tiny_model):
    from mimicjax.translate.wan.transformer import WanModel

    x, t, context = random_inputs(tiny_config, 2, 2, 4, 4, 4, seed=7)
    config = tiny_config.replace(dtype="bfloat16", param_dtype="bfloat16")
    model = WanModel(config, tiny_params, compiler_options=FAST_COMPILE)
    out = model(x, t, context)
    assert out.dtype == jnp.bfloat16
    ref = np.asarray(tiny_model(x, t, context))
    err = np.abs(np.asarray(out, np.float32) - ref).max() / np.abs(ref).max()
    assert err < 5e-2, err


def test_remat_same_values_and_gradients(tiny_config, tiny_params):
    from mimicjax.translate.wan.transformer import WanTransformer

    config = tiny_config.replace(num_layers=1)
    params = {k: v for k, v in tiny_params.items() if k != "blocks_1"}
    x, t, context = (jnp.asarray(a) for a in random_inputs(config, 1, 1, 4, 4, 3, seed=8))

    def loss(params, config):
        return jnp.mean(WanTransformer(config).apply({"params": params}, x, t, context) ** 2)

    jit = lambda f: jax.jit(f, compiler_options=FAST_COMPILE)
    plain = jit(jax.value_and_grad(lambda p: loss(p, config)))(params)
    remat = jit(jax.value_and_grad(lambda p: loss(p, config.replace(remat=True))))(params)
    np.testing.assert_allclose(remat[0], plain[0], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(remat[1]), jax.tree.leaves(plain[1])):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-5)


def test_chunked_attention_matches_xla():
    from mimicjax.translate.wan.attention import attention, choose_implementation

    rng = np.random.default_rng(0)
    q, k, v = (jnp.asarray(rng.standard_normal((2, n, 2, 8)), jnp.float32) for n in (37, 29, 29))

    def values_and_grads(q):  # one compile for both implementations, forward and backward
        out = {}
        for impl in ("xla", "chunked"):  # chunked: 37 = 4 blocks of 8 + a remainder
            f = lambda q_: attention(q_, k, v, implementation=impl, block_q=8)
            out[impl] = (f(q), jax.grad(lambda q_: jnp.sum(f(q_) ** 2))(q))
        return out

    out = jax.jit(values_and_grads, compiler_options=FAST_COMPILE)(q)
    np.testing.assert_allclose(out["chunked"][0], out["xla"][0], atol=1e-6)
    np.testing.assert_allclose(out["chunked"][1], out["xla"][1], atol=1e-5)
    # automatic choice: XLA while the logits are small, chunked beyond the budget (on CPU)
    assert choose_implementation((1, 64, 2, 8), 64, jnp.float32) == "xla"
    assert choose_implementation((1, 64, 2, 8), 64, jnp.float32, max_logits_bytes=1000) == "chunked"
    assert choose_implementation((1, 64, 2, 8), 64, jnp.float32, requested="cudnn") == "cudnn"


def test_chunked_attention_in_model_matches(tiny_config, tiny_params, tiny_model):
    from mimicjax.translate.wan.transformer import WanModel

    x, t, context = random_inputs(tiny_config, 1, 2, 6, 6, 4, seed=9)
    config = tiny_config.replace(attention="chunked", attention_block_q=5)
    model = WanModel(config, tiny_params, compiler_options=FAST_COMPILE)
    np.testing.assert_allclose(np.asarray(model(x, t, context)), np.asarray(tiny_model(x, t, context)), atol=1e-5)


def test_presets():
    from mimicjax.translate.wan.configs import preset

    ti2v = preset("wan2.2-ti2v-5b")
    assert (ti2v.inner_dim, ti2v.num_attention_heads, ti2v.num_layers, ti2v.ffn_dim) == (3072, 24, 30, 14336)
    assert (ti2v.in_channels, ti2v.out_channels, ti2v.patch_size, ti2v.text_dim, ti2v.freq_dim) == (48, 48, (1, 2, 2), 4096, 256)
    assert preset("wan2.1-t2v-1.3b").inner_dim == 1536 and preset("wan2.1-t2v-14b").inner_dim == 5120
    with pytest.raises(ValueError, match="unknown Wan preset"):
        preset("wan9")
