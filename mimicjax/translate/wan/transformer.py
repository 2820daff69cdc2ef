"""The Wan 2.x video diffusion transformer (DiT) in Flax linen.

Computes what diffusers' `WanTransformer3DModel` computes, with parameter names that mirror its
state dict (dots become nesting; `blocks.3` is `blocks_3`, `to_out.0` is `to_out`, `ffn.net.0.proj` is
`ffn.proj_in`, `ffn.net.2` is `ffn.proj_out`; see `mimicjax.translate.wan.convert`).

Forward pass, for a latent video x [B, C, F, H, W] (NCTHW, like diffusers):
  1. 3D patch embedding: non-overlapping (pt, ph, pw) patches -> one matmul -> tokens [B, L, D].
  2. Timestep t ([B], or per token [B, L] as in Wan 2.2 TI2V) -> sinusoid -> SiLU MLP -> `temb`,
     then SiLU -> linear -> six modulation vectors per block.
  3. Text embeddings -> GELU(tanh) MLP -> context.
  4. Blocks: AdaLN(shift, scale) -> self-attention (RMSNorm on q/k across heads, 3D RoPE) -> gated
     residual; affine LayerNorm -> cross-attention to the context -> residual; AdaLN -> GELU(tanh) FFN
     -> gated residual.
  5. Output head with its own (shift, scale) from `temb`, linear, unpatchify back to NCTHW.

In-context conditioning (H2R-Grounder): `condition` latents of the same layout are patch-embedded
(shared patch embedding, or `condition_embedding` when `config.separate_condition_embedding`), appended
after the target tokens, given the same RoPE grid positions as a target of their shape and timestep 0,
and dropped before the output head. With `config.mask_condition_to_target` the condition tokens attend
only to each other (two attention calls, no mask array: every attention kernel applies).

Norms, modulation and the time embedding run in float32; matmuls and the residual stream run in
`config.dtype`. Linear layers read optional LoRA factors from the "lora" variable collection
(see `mimicjax.translate.lora`), so adapters never copy the frozen weights.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.translate.wan.attention import attention
from mimicjax.translate.wan.checkpoint_io import resolve_dtype
from mimicjax.translate.wan.configs import WanConfig
from mimicjax.translate.wan.rope import apply_rope, rope_tables


# ----------------------------------------------------------------------------------------------
# Small layers


class Linear(nn.Module):
    """y = x @ kernel + bias, plus lora_scale * (x @ lora_A) @ lora_B when the "lora" collection has them."""

    features: int
    use_bias: bool = True
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32
    lora_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (x.shape[-1], self.features), self.param_dtype
        )
        x = x.astype(self.dtype)
        y = jnp.dot(x, kernel.astype(self.dtype))
        if self.has_variable("lora", "lora_A"):
            lora_a = self.get_variable("lora", "lora_A").astype(self.dtype)
            lora_b = self.get_variable("lora", "lora_B").astype(self.dtype)
            y = y + jnp.dot(jnp.dot(x, lora_a), lora_b) * jnp.asarray(self.lora_scale, self.dtype)
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,), self.param_dtype)
            y = y + bias.astype(self.dtype)
        return y


def layer_norm(x: jnp.ndarray, eps: float) -> jnp.ndarray:
    """Non-affine LayerNorm over the last axis, in float32 (returns float32)."""
    x = x.astype(jnp.float32)
    mean = jnp.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    var = jnp.mean(jnp.square(centred), axis=-1, keepdims=True)
    return centred * jax.lax.rsqrt(var + eps)


class LayerNorm(nn.Module):
    """Affine LayerNorm in float32 (diffusers' FP32LayerNorm); returns float32."""

    eps: float = 1e-6

    @nn.compact
    def __call__(self, x):
        dim = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (dim,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (dim,), jnp.float32)
        return layer_norm(x, self.eps) * scale + bias


class RMSNorm(nn.Module):
    """RMSNorm with a learned scale, computed in float32, returned in the input dtype."""

    eps: float = 1e-6

    @nn.compact
    def __call__(self, x):
        scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), jnp.float32)
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + self.eps)
        return (y * scale).astype(x.dtype)


def timestep_embedding(t: jnp.ndarray, dim: int, max_period: float = 10000.0) -> jnp.ndarray:
    """Sinusoidal embedding [..., dim] of (fractional) timesteps, cos half first."""
    half = dim // 2
    exponent = (-math.log(max_period) * np.arange(half, dtype=np.float32)) / np.float32(half)
    freqs = jnp.asarray(np.exp(exponent.astype(np.float64)).astype(np.float32))
    args = t.astype(jnp.float32)[..., None] * freqs
    emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
    if dim % 2:
        emb = jnp.pad(emb, [(0, 0)] * (emb.ndim - 1) + [(0, 1)])
    return emb


class MLP(nn.Module):
    """linear_1 -> activation -> linear_2."""

    hidden: int
    out: int
    activation: Callable
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        x = Linear(self.hidden, dtype=self.dtype, param_dtype=self.param_dtype, name="linear_1")(x)
        x = self.activation(x)
        return Linear(self.out, dtype=self.dtype, param_dtype=self.param_dtype, name="linear_2")(x)


def _gelu_tanh(x):
    return jax.nn.gelu(x, approximate=True)


class ConditionEmbedder(nn.Module):
    """Timestep -> (temb, six modulation vectors); text embeddings -> context."""

    config: WanConfig

    @nn.compact
    def __call__(self, timestep, encoder_hidden_states):
        cfg = self.config
        dtype, param_dtype = resolve_dtype(cfg.dtype), resolve_dtype(cfg.param_dtype)
        dim = cfg.inner_dim
        sinusoid = timestep_embedding(timestep, cfg.freq_dim)
        # The time MLP is kept in float32 (as the reference keeps `time_embedder` in fp32).
        temb = MLP(dim, dim, jax.nn.silu, name="time_embedder")(sinusoid).astype(dtype)
        temb_proj = Linear(6 * dim, dtype=dtype, param_dtype=param_dtype, name="time_proj")(jax.nn.silu(temb))
        temb_proj = temb_proj.reshape(*temb_proj.shape[:-1], 6, dim)
        context = MLP(dim, dim, _gelu_tanh, dtype=dtype, param_dtype=param_dtype, name="text_embedder")(
            encoder_hidden_states
        )
        return temb, temb_proj, context


class WanAttention(nn.Module):
    """Self-attention (with RoPE) when `context` is None, cross-attention otherwise."""

    config: WanConfig
    lora_scale: float = 1.0

    @nn.compact
    def __call__(self, x, context=None, cos=None, sin=None, num_target: int | None = None):
        """`num_target`: self-attention only; the tokens after the first `num_target` (the condition)
        attend only to themselves."""
        cfg = self.config
        dtype, param_dtype = resolve_dtype(cfg.dtype), resolve_dtype(cfg.param_dtype)
        heads, head_dim = cfg.num_attention_heads, cfg.attention_head_dim
        inner = heads * head_dim

        def linear(name, features):
            return Linear(features, dtype=dtype, param_dtype=param_dtype, lora_scale=self.lora_scale, name=name)

        source = x if context is None else context
        q = linear("to_q", inner)(x)
        k = linear("to_k", inner)(source)
        v = linear("to_v", inner)(source)
        q = RMSNorm(cfg.eps, name="norm_q")(q)
        k = RMSNorm(cfg.eps, name="norm_k")(k)
        q = q.reshape(*q.shape[:2], heads, head_dim)
        k = k.reshape(*k.shape[:2], heads, head_dim)
        v = v.reshape(*v.shape[:2], heads, head_dim)
        if cos is not None:
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
        attend = functools.partial(attention, implementation=cfg.attention, block_q=cfg.attention_block_q)
        if num_target is None:
            out = attend(q, k, v)
        else:
            n = num_target
            out = jnp.concatenate([attend(q[:, :n], k, v), attend(q[:, n:], k[:, n:], v[:, n:])], axis=1)
        out = out.reshape(*out.shape[:2], inner).astype(dtype)
        return linear("to_out", x.shape[-1])(out)


class FeedForward(nn.Module):
    config: WanConfig
    lora_scale: float = 1.0

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        dtype, param_dtype = resolve_dtype(cfg.dtype), resolve_dtype(cfg.param_dtype)
        h = Linear(cfg.ffn_dim, dtype=dtype, param_dtype=param_dtype, lora_scale=self.lora_scale, name="proj_in")(x)
        h = _gelu_tanh(h)
        return Linear(x.shape[-1], dtype=dtype, param_dtype=param_dtype, lora_scale=self.lora_scale, name="proj_out")(h)


def _table_init(dim: int):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.normal(key, shape, dtype) / math.sqrt(dim)

    return init


class WanBlock(nn.Module):
    config: WanConfig
    lora_scale: float = 1.0

    # Static under remat: a token count, not an array.
    num_target: int | None = None

    @nn.compact
    def __call__(self, x, context, temb_proj, cos, sin):
        cfg = self.config
        dtype = resolve_dtype(cfg.dtype)
        dim = cfg.inner_dim
        table = self.param("scale_shift_table", _table_init(dim), (1, 6, dim), jnp.float32)
        # temb_proj: [B, Lt, 6, D] with Lt == 1 (one timestep per sample) or Lt == L (per token).
        mod = table[None] + temb_proj.astype(jnp.float32)
        shift_msa, scale_msa, gate_msa, c_shift, c_scale, c_gate = (mod[:, :, i] for i in range(6))

        h = (layer_norm(x, cfg.eps) * (1 + scale_msa) + shift_msa).astype(dtype)
        h = WanAttention(cfg, self.lora_scale, name="attn1")(h, None, cos, sin, self.num_target)
        x = (x.astype(jnp.float32) + h.astype(jnp.float32) * gate_msa).astype(dtype)

        if cfg.cross_attn_norm:
            h = LayerNorm(cfg.eps, name="norm2")(x).astype(dtype)
        else:
            h = x
        x = x + WanAttention(cfg, self.lora_scale, name="attn2")(h, context)

        h = (layer_norm(x, cfg.eps) * (1 + c_scale) + c_shift).astype(dtype)
        h = FeedForward(cfg, self.lora_scale, name="ffn")(h)
        return (x.astype(jnp.float32) + h.astype(jnp.float32) * c_gate).astype(dtype)


# ----------------------------------------------------------------------------------------------
# Patching


def patchify(video: jnp.ndarray, patch: tuple[int, int, int]) -> tuple[jnp.ndarray, tuple[int, int, int]]:
    """[B, C, F, H, W] -> tokens [B, F'*H'*W', C*pt*ph*pw] in (f, h, w) order, and the grid (F', H', W').

    Trailing frames/rows/columns that do not fill a patch are dropped, like a strided Conv3d.
    """
    if video.ndim != 5:
        raise ValueError(f"expected a latent video [B, C, F, H, W], got shape {video.shape}")
    b, c, f, h, w = video.shape
    pt, ph, pw = patch
    gf, gh, gw = f // pt, h // ph, w // pw
    if min(gf, gh, gw) == 0:
        raise ValueError(f"latent video {video.shape} is smaller than one patch {patch}")
    video = video[:, :, : gf * pt, : gh * ph, : gw * pw]
    x = video.reshape(b, c, gf, pt, gh, ph, gw, pw)
    x = x.transpose(0, 2, 4, 6, 1, 3, 5, 7)
    return x.reshape(b, gf * gh * gw, c * pt * ph * pw), (gf, gh, gw)


def unpatchify(tokens: jnp.ndarray, grid: tuple[int, int, int], patch: tuple[int, int, int], channels: int):
    """Tokens [B, L, pt*ph*pw*C] (channel last within a patch) -> [B, C, F, H, W]."""
    b = tokens.shape[0]
    gf, gh, gw = grid
    pt, ph, pw = patch
    x = tokens.reshape(b, gf, gh, gw, pt, ph, pw, channels)
    x = x.transpose(0, 7, 1, 4, 2, 5, 3, 6)
    return x.reshape(b, channels, gf * pt, gh * ph, gw * pw)


def _per_token_timestep(timestep: jnp.ndarray, batch: int, length: int) -> jnp.ndarray:
    """Timestep as [B, 1] (one per sample) or [B, L] (one per token)."""
    t = jnp.asarray(timestep)
    if t.ndim == 0:
        return jnp.broadcast_to(t.reshape(1, 1), (batch, 1))
    if t.ndim == 1:
        if t.shape[0] not in (1, batch):
            raise ValueError(f"timestep of shape {t.shape} does not match batch size {batch}")
        return jnp.broadcast_to(t[:, None], (batch, 1))
    if t.ndim == 2:
        if t.shape[0] not in (1, batch) or t.shape[1] not in (1, length):
            raise ValueError(
                f"per-token timestep of shape {t.shape} must be [batch={batch}, tokens={length}] "
                f"(tokens = patched frames x height x width)"
            )
        return jnp.broadcast_to(t, (batch, t.shape[1]))
    raise ValueError(f"timestep must be a scalar, [B] or [B, L]; got shape {t.shape}")


class WanTransformer(nn.Module):
    """The Wan DiT. Call with (hidden_states [B,C,F,H,W], timestep, encoder_hidden_states [B,S,text_dim],
    condition=None [B,C,F,H,W]); returns the prediction [B, out_channels, F, H, W] in `config.dtype`."""

    config: WanConfig
    lora_scale: float = 1.0

    @nn.compact
    def __call__(self, hidden_states, timestep, encoder_hidden_states, condition=None):
        cfg = self.config
        dtype, param_dtype = resolve_dtype(cfg.dtype), resolve_dtype(cfg.param_dtype)
        dim = cfg.inner_dim
        batch = hidden_states.shape[0]
        if hidden_states.shape[1] != cfg.in_channels:
            raise ValueError(
                f"hidden_states has {hidden_states.shape[1]} channels, the model expects {cfg.in_channels}"
            )
        if encoder_hidden_states.ndim != 3 or encoder_hidden_states.shape[-1] != cfg.text_dim:
            raise ValueError(
                f"encoder_hidden_states must be [B, S, {cfg.text_dim}], got {encoder_hidden_states.shape}"
            )

        tokens, grid = patchify(hidden_states, cfg.patch_size)
        length = tokens.shape[1]
        patch_embedding = Linear(dim, dtype=dtype, param_dtype=param_dtype, name="patch_embedding")
        x = patch_embedding(tokens)
        cos, sin = (jnp.asarray(a) for a in rope_tables(cfg.attention_head_dim, grid, cfg.rope_theta, cfg.rope_max_seq_len))
        t = _per_token_timestep(timestep, batch, length)

        if condition is not None:
            if condition.shape[:2] != hidden_states.shape[:2]:
                raise ValueError(
                    f"condition latents {condition.shape} must have the batch size and channels of "
                    f"hidden_states {hidden_states.shape}"
                )
            c_tokens, c_grid = patchify(condition, cfg.patch_size)
            if cfg.separate_condition_embedding:
                embed = Linear(dim, dtype=dtype, param_dtype=param_dtype, name="condition_embedding")
            else:
                embed = patch_embedding
            c_x = embed(c_tokens)
            c_cos, c_sin = rope_tables(cfg.attention_head_dim, c_grid, cfg.rope_theta, cfg.rope_max_seq_len)
            x = jnp.concatenate([x, c_x], axis=1)
            cos = jnp.concatenate([cos, jnp.asarray(c_cos)], axis=0)
            sin = jnp.concatenate([sin, jnp.asarray(c_sin)], axis=0)
            t = jnp.concatenate(
                [jnp.broadcast_to(t, (batch, length)).astype(jnp.float32), jnp.zeros((batch, c_tokens.shape[1]), jnp.float32)],
                axis=1,
            )

        temb, temb_proj, context = ConditionEmbedder(cfg, name="condition_embedder")(t, encoder_hidden_states)

        isolated = length if condition is not None and cfg.mask_condition_to_target else None
        block_cls = nn.remat(WanBlock) if cfg.remat else WanBlock
        for i in range(cfg.num_layers):
            x = block_cls(cfg, self.lora_scale, isolated, name=f"blocks_{i}")(x, context, temb_proj, cos, sin)

        x = x[:, :length]
        temb = temb[:, :length]
        table = self.param("scale_shift_table", _table_init(dim), (1, 2, dim), jnp.float32)
        mod = table[None] + temb[:, :, None].astype(jnp.float32)
        shift, scale = mod[:, :, 0], mod[:, :, 1]
        h = (layer_norm(x, cfg.eps) * (1 + scale) + shift).astype(dtype)
        out = Linear(cfg.out_channels * cfg.patch_volume, dtype=dtype, param_dtype=param_dtype, name="proj_out")(h)
        return unpatchify(out, grid, cfg.patch_size, cfg.out_channels)


# ----------------------------------------------------------------------------------------------
# Parameters and a callable model


def dummy_inputs(config: WanConfig, *, condition: bool = False):
    """Smallest valid inputs (shape-only use: initialisation and abstract evaluation)."""
    pt, ph, pw = config.patch_size
    hidden = jnp.zeros((1, config.in_channels, pt, ph, pw), jnp.float32)
    args = (hidden, jnp.zeros((1,), jnp.float32), jnp.zeros((1, 1, config.text_dim), jnp.float32))
    return args + ((hidden,) if condition else ())


def with_condition_embedding(params, embedding=None) -> dict:
    """`params` with a `condition_embedding` (for `separate_condition_embedding`): `embedding` when given,
    else a copy of `patch_embedding`, so a pretrained model starts out embedding the condition as before."""
    if embedding is None:
        embedding = jax.tree.map(jnp.array, params["patch_embedding"])
    return {**params, "condition_embedding": embedding}


def without_condition_embedding(params) -> dict:
    """`params` without `condition_embedding`: the base model's tree, what checkpoints of Wan hold."""
    return {name: value for name, value in params.items() if name != "condition_embedding"}


def init_params(config: WanConfig, rng: jax.Array | int = 0) -> dict:
    """Randomly initialised parameters (nested dict of arrays)."""
    if isinstance(rng, int):
        rng = jax.random.PRNGKey(rng)
    module = WanTransformer(config)
    args = dummy_inputs(config, condition=config.separate_condition_embedding)
    params = jax.jit(module.init)(rng, *args)["params"]
    return with_condition_embedding(params) if config.separate_condition_embedding else params


def abstract_params(config: WanConfig) -> dict:
    """The parameter tree as `jax.ShapeDtypeStruct`s, without allocating anything."""
    module = WanTransformer(config)
    args = dummy_inputs(config, condition=config.separate_condition_embedding)
    return jax.eval_shape(module.init, jax.random.PRNGKey(0), *args)["params"]


@functools.lru_cache(maxsize=32)
def _jitted_apply(config: WanConfig, lora_scale: float, compiler_options: tuple = ()):
    """One jitted forward per (config, lora scale, XLA options), shared by every `WanModel` with those."""
    module = WanTransformer(config, lora_scale=lora_scale)

    def forward(variables, hidden_states, timestep, encoder_hidden_states, condition=None):
        return module.apply(variables, hidden_states, timestep, encoder_hidden_states, condition)

    return jax.jit(forward, compiler_options=dict(compiler_options) or None)


class WanModel:
    """A `WanTransformer` bound to its parameters (and optionally LoRA factors).

    `model(hidden_states, timestep, encoder_hidden_states, condition=None)` returns what diffusers'
    `WanTransformer3DModel(...).sample` returns (NCTHW), as a JAX array. `model.apply` is the pure
    function of (params, ...) to use inside `jit`/`grad`. `compiler_options` are XLA options for the
    jitted forward (for example ``{"xla_backend_optimization_level": 0}`` compiles tiny test models on
    CPU faster).
    """

    def __init__(
        self,
        config: WanConfig,
        params,
        lora=None,
        lora_scale: float = 1.0,
        compiler_options: Mapping[str, Any] | None = None,
    ):
        self.config = config
        self.params = params
        self.lora = lora
        self.lora_scale = float(lora_scale)
        self.compiler_options = dict(compiler_options or {})
        self.module = WanTransformer(config, lora_scale=self.lora_scale)
        self._jitted = _jitted_apply(config, self.lora_scale, tuple(sorted(self.compiler_options.items())))

    def variables(self, params=None, lora=None) -> dict:
        params = self.params if params is None else params
        lora = self.lora if lora is None else lora
        return {"params": params} if lora is None else {"params": params, "lora": lora}

    def _apply_variables(self, variables, hidden_states, timestep, encoder_hidden_states, condition=None):
        return self.module.apply(variables, hidden_states, timestep, encoder_hidden_states, condition)

    def apply(self, params, hidden_states, timestep, encoder_hidden_states, condition=None, lora=None):
        return self._apply_variables(self.variables(params, lora), hidden_states, timestep, encoder_hidden_states, condition)

    def __call__(self, hidden_states, timestep, encoder_hidden_states, condition=None):
        return self._jitted(
            self.variables(),
            jnp.asarray(hidden_states),
            jnp.asarray(timestep),
            jnp.asarray(encoder_hidden_states),
            None if condition is None else jnp.asarray(condition),
        )

    def with_params(self, params=None, lora=None, lora_scale: float | None = None) -> "WanModel":
        return WanModel(
            self.config,
            self.params if params is None else params,
            self.lora if lora is None else lora,
            self.lora_scale if lora_scale is None else lora_scale,
            self.compiler_options,
        )
