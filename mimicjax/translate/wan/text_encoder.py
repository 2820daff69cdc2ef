"""The umT5 text encoder of Wan in Flax (matches transformers' `UMT5EncoderModel`), plus a prompt cache.

umT5 differs from T5 in one place that matters for the numbers: every layer has its own relative
position bias table (T5 shares the first layer's). The rest is the T5 v1.1 encoder: RMS layer norm
without mean subtraction, attention logits that are not scaled by 1/sqrt(d), a gated-GELU feed forward.

Wan conditions on embeddings of prompts padded to a fixed length (512 by default): the encoder sees the
padded tokens with an attention mask, and the output rows of the padding positions are set to zero.

H2R-Grounder uses one fixed prompt; `PromptCache` keeps its embeddings in memory and, optionally, in
an npz file per prompt so the 5.7B-parameter encoder need not be loaded again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import io
import json
import logging
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from mimicjax.io_utils import atomic_path
from mimicjax.translate.wan.checkpoint_io import (
    TRANSFORMERS_STEM,
    build_params,
    checkpoint_files,
    component_folder,
    iter_state_dict,
    iter_tensors,
    resolve_dtype,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 512
H2R_PROMPT = "A robotic arm is interacting with objects."

@dataclasses.dataclass(frozen=True)
class UMT5Config:
    """Encoder architecture; field names follow transformers' `UMT5Config` (defaults: umt5-xxl as in Wan)."""

    vocab_size: int = 256384
    d_model: int = 4096
    d_kv: int = 64
    d_ff: int = 10240
    num_layers: int = 24
    num_heads: int = 64
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "gated-gelu"
    pad_token_id: int = 0
    eos_token_id: int = 1

    def __post_init__(self):
        parts = self.feed_forward_proj.split("-")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated") or parts[-1] not in _ACTIVATIONS:
            raise ValueError(
                f"feed_forward_proj {self.feed_forward_proj!r} is not supported; use '<act>' or 'gated-<act>' "
                f"with act in {sorted(_ACTIVATIONS)}"
            )

    @property
    def is_gated(self) -> bool:
        return self.feed_forward_proj.startswith("gated-")

    @property
    def activation(self) -> str:
        act = self.feed_forward_proj.split("-")[-1]
        # transformers runs "gated-gelu" with the tanh approximation ("gelu_new").
        return "gelu_new" if self.feed_forward_proj == "gated-gelu" else act

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UMT5Config":
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields and v is not None}
        if isinstance(kwargs.get("eos_token_id"), list):
            kwargs["eos_token_id"] = kwargs["eos_token_id"][0]
        return cls(**kwargs)


_ACTIVATIONS: dict[str, Callable] = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}


def relative_position_buckets(
    query_length: int, key_length: int, num_buckets: int, max_distance: int
) -> np.ndarray:
    """Bidirectional T5 buckets of (key position - query position), shape (query_length, key_length).

    Half of the buckets are for keys before the query, half after; within each half, small distances get
    their own bucket and larger ones share logarithmically wider buckets up to `max_distance`. The
    logarithm is evaluated in float32, like the reference, so boundary cases land in the same bucket.
    """
    relative = np.arange(key_length)[None, :] - np.arange(query_length)[:, None]
    half = num_buckets // 2
    buckets = (relative > 0).astype(np.int64) * half
    distance = np.abs(relative)
    max_exact = half // 2
    is_small = distance < max_exact
    safe = np.maximum(distance, 1).astype(np.float32)
    ratio = np.log(safe / np.float32(max_exact)) / np.float32(math.log(max_distance / max_exact))
    large = max_exact + (ratio * np.float32(half - max_exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return (buckets + np.where(is_small, distance, large)).astype(np.int32)


class T5LayerNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight, in float32."""

    eps: float = 1e-6

    @nn.compact
    def __call__(self, x):
        weight = self.param("weight", nn.initializers.ones, (x.shape[-1],), jnp.float32)
        xf = x.astype(jnp.float32)
        variance = jnp.mean(xf * xf, axis=-1, keepdims=True)
        return weight.astype(jnp.float32) * (xf * jax.lax.rsqrt(variance + self.eps))


class Linear(nn.Module):
    """Bias-free linear layer, kernel (in, out), computing in `dtype`."""

    features: int
    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        init = nn.initializers.normal(x.shape[-1] ** -0.5)
        kernel = self.param("kernel", init, (x.shape[-1], self.features), jnp.float32)
        return jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype), precision=self.precision)


class Embedding(nn.Module):
    num: int
    features: int

    @nn.compact
    def __call__(self, ids):
        table = self.param("embedding", nn.initializers.normal(1.0), (self.num, self.features), jnp.float32)
        return jnp.take(table, ids, axis=0)


class SelfAttention(nn.Module):
    config: UMT5Config
    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, x, key_mask):
        cfg = self.config
        b, length, _ = x.shape
        inner = cfg.num_heads * cfg.d_kv

        def heads(t):
            return t.reshape(b, length, cfg.num_heads, cfg.d_kv)

        q = heads(Linear(inner, self.dtype, self.precision, name="q")(x))
        k = heads(Linear(inner, self.dtype, self.precision, name="k")(x))
        v = heads(Linear(inner, self.dtype, self.precision, name="v")(x))
        num_buckets = cfg.relative_attention_num_buckets
        buckets = relative_position_buckets(length, length, num_buckets, cfg.relative_attention_max_distance)
        bias = Embedding(num_buckets, cfg.num_heads, name="relative_attention_bias")(jnp.asarray(buckets))
        bias = jnp.transpose(bias, (2, 0, 1))[None].astype(jnp.float32)  # (1, heads, q, k)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, precision=self.precision).astype(jnp.float32) + bias
        logits = jnp.where(key_mask[:, None, None, :], logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v, precision=self.precision).reshape(b, length, inner)
        return Linear(cfg.d_model, self.dtype, self.precision, name="o")(out)


class FeedForward(nn.Module):
    config: UMT5Config
    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        act = _ACTIVATIONS[cfg.activation]
        if cfg.is_gated:
            gate = act(Linear(cfg.d_ff, self.dtype, self.precision, name="wi_0")(x))
            h = gate * Linear(cfg.d_ff, self.dtype, self.precision, name="wi_1")(x)
        else:
            h = act(Linear(cfg.d_ff, self.dtype, self.precision, name="wi")(x))
        # The output projection runs in float32 (transformers keeps `wo` in float32 for stability).
        return Linear(cfg.d_model, jnp.float32, self.precision, name="wo")(h)


class UMT5EncoderModule(nn.Module):
    """input ids (B, L) + mask (B, L) -> last hidden state (B, L, d_model), float32.

    The residual stream and the norms are float32; the projections compute in `dtype`.
    """

    config: UMT5Config
    dtype: Any = jnp.float32
    precision: Any = None

    @nn.compact
    def __call__(self, input_ids, attention_mask):
        cfg = self.config
        key_mask = attention_mask.astype(bool)
        x = Embedding(cfg.vocab_size, cfg.d_model, name="shared")(input_ids).astype(jnp.float32)
        for i in range(cfg.num_layers):
            block = f"block_{i}"
            h = T5LayerNorm(cfg.layer_norm_epsilon, name=f"{block}_layer_0_layer_norm")(x)
            attention = SelfAttention(cfg, self.dtype, self.precision, name=f"{block}_layer_0_SelfAttention")
            x = x + attention(h, key_mask).astype(jnp.float32)
            h = T5LayerNorm(cfg.layer_norm_epsilon, name=f"{block}_layer_1_layer_norm")(x)
            feed_forward = FeedForward(cfg, self.dtype, self.precision, name=f"{block}_layer_1_DenseReluDense")
            x = x + feed_forward(h).astype(jnp.float32)
        return T5LayerNorm(cfg.layer_norm_epsilon, name="final_layer_norm")(x)


# --------------------------------------------------------------------------------------------------
# Checkpoint conversion (transformers key <-> Flax path)
# --------------------------------------------------------------------------------------------------

_BLOCK_KEY = re.compile(r"^encoder\.block\.(\d+)\.layer\.(\d+)\.(.+)$")


def umt5_key_to_path(key: str) -> tuple[str, ...] | None:
    """Flax path of a transformers `UMT5EncoderModel` tensor (None: not part of the encoder)."""
    if key in ("shared.weight", "encoder.embed_tokens.weight"):
        return ("shared", "embedding")
    if key == "encoder.final_layer_norm.weight":
        return ("final_layer_norm", "weight")
    match = _BLOCK_KEY.match(key)
    if match is None:
        return None if key.startswith(("decoder.", "lm_head.")) else (key,)
    block, layer, rest = match.groups()
    prefix = f"block_{block}_layer_{layer}_"
    parts = rest.split(".")
    if parts == ["layer_norm", "weight"]:
        return (prefix + "layer_norm", "weight")
    if len(parts) == 3 and parts[0] in ("SelfAttention", "DenseReluDense") and parts[2] == "weight":
        leaf = "embedding" if parts[1] == "relative_attention_bias" else "kernel"
        return (prefix + parts[0], parts[1], leaf)
    return (key,)


def _umt5_transform(key: str, array: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    embedding = key.endswith(("relative_attention_bias.weight", "shared.weight", "embed_tokens.weight"))
    if key.endswith(".weight") and array.ndim == 2 and not embedding:
        return np.transpose(array, (1, 0))
    return array


def umt5_params_from_tensors(tensors, expected: Mapping, dtype: Any, source: str) -> dict:
    """Flax parameters of `UMT5EncoderModule` from streamed transformers `UMT5EncoderModel` tensors."""
    return build_params(tensors, expected, umt5_key_to_path, _umt5_transform, dtype, source)


def umt5_param_shapes(config: UMT5Config) -> dict:
    module = UMT5EncoderModule(config)
    ids = jax.ShapeDtypeStruct((1, 2), jnp.int32)
    return jax.eval_shape(lambda a, m: module.init(jax.random.PRNGKey(0), a, m), ids, ids)["params"]


# --------------------------------------------------------------------------------------------------
# The user-facing encoder
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _compiled_forward(config: UMT5Config, dtype: Any, precision: Any):
    module = UMT5EncoderModule(config, dtype, precision)

    def forward(params, input_ids, attention_mask):
        hidden = module.apply({"params": params}, input_ids, attention_mask)
        return jnp.where(attention_mask[..., None].astype(bool), hidden, 0.0)

    return jax.jit(forward)


def clean_prompt(text: str) -> str:
    """The Wan pipelines' prompt clean-up: fix mojibake (when `ftfy` is installed), unescape HTML,
    collapse whitespace."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


class UMT5TextEncoder:
    """umT5 encoder with weights: token ids or prompts -> (B, max_length, d_model) float32 embeddings.

    Rows of padding positions are zero (what the Wan transformer expects). `dtype` is the storage and
    matmul dtype of the weights ("bfloat16" for umt5-xxl on accelerators, "float32" for exact parity).
    `identity` names the weights + settings and keys `PromptCache` entries.
    """

    def __init__(
        self,
        config: UMT5Config | Mapping[str, Any],
        params: Mapping,
        *,
        dtype: Any = "float32",
        precision: Any = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        tokenizer: Any = None,
        source: str = "unnamed",
    ):
        if not isinstance(config, UMT5Config):
            config = UMT5Config.from_dict(config)
        if max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length}")
        self.config = config
        self.dtype = resolve_dtype(dtype)
        if precision is not None and not isinstance(precision, jax.lax.Precision):
            precision = jax.lax.Precision[str(precision).upper()]
        self.precision = precision
        self.max_length = int(max_length)
        self.tokenizer = tokenizer
        self.params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, self.dtype), dict(params))
        self._forward = _compiled_forward(config, self.dtype, precision)
        description = {
            "source": source,
            "config": dataclasses.asdict(config),
            "dtype": jnp.dtype(self.dtype).name,
            "max_length": self.max_length,
        }
        digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
        self.identity = f"umt5-{digest}"

    @classmethod
    def from_config(cls, config: UMT5Config | Mapping[str, Any], seed: int = 0, **kwargs) -> "UMT5TextEncoder":
        """Randomly initialised encoder (tests)."""
        if not isinstance(config, UMT5Config):
            config = UMT5Config.from_dict(config)
        ids = jnp.zeros((1, 2), jnp.int32)
        params = UMT5EncoderModule(config).init(jax.random.PRNGKey(seed), ids, ids)["params"]
        kwargs.setdefault("source", f"random:{seed}")
        return cls(config, params, **kwargs)

    @classmethod
    def from_torch_state_dict(
        cls, config: UMT5Config | Mapping[str, Any], state_dict: Mapping[str, Any], **kwargs
    ) -> "UMT5TextEncoder":
        """From an in-memory transformers `UMT5EncoderModel.state_dict()`; kwargs go to the constructor."""
        if not isinstance(config, UMT5Config):
            config = UMT5Config.from_dict(config)
        dtype = resolve_dtype(kwargs.get("dtype", "float32"))
        params = umt5_params_from_tensors(iter_state_dict(state_dict), umt5_param_shapes(config), dtype, "state dict")
        kwargs.setdefault("source", "state dict")
        return cls(config, params, **kwargs)

    # ---- tokens ----

    def pad_ids(self, token_ids) -> tuple[np.ndarray, np.ndarray]:
        """One id sequence or a batch of them -> (ids, mask), each (B, max_length) int32, padded on the right."""
        if isinstance(token_ids, np.ndarray | jax.Array) and np.ndim(token_ids) == 1:
            token_ids = [np.asarray(token_ids).tolist()]
        elif isinstance(token_ids, np.ndarray | jax.Array):
            token_ids = np.asarray(token_ids).tolist()
        elif token_ids and isinstance(token_ids[0], int | np.integer):
            token_ids = [list(token_ids)]
        ids = np.full((len(token_ids), self.max_length), self.config.pad_token_id, np.int32)
        mask = np.zeros((len(token_ids), self.max_length), np.int32)
        for row, seq in enumerate(token_ids):
            seq = [int(t) for t in seq][: self.max_length]
            bad = [t for t in seq if not 0 <= t < self.config.vocab_size]
            if bad:
                raise ValueError(f"token ids {bad[:5]} are outside the vocabulary (size {self.config.vocab_size})")
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return ids, mask

    def tokenize(self, prompts: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Prompts -> (ids, mask) with the tokenizer, as the Wan pipelines do (EOS appended, padded, truncated)."""
        if self.tokenizer is None:
            raise ValueError(
                "this text encoder has no tokenizer: pass token ids (encode_ids / embed_prompt(token_ids=...)) "
                "or load it with a tokenizer folder (load_umt5_encoder(..., tokenizer=PATH))"
            )
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        out = self.tokenizer(
            [clean_prompt(p) for p in prompts],
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="np",
        )
        return np.asarray(out["input_ids"], np.int32), np.asarray(out["attention_mask"], np.int32)

    # ---- encoding ----

    def encode_ids(self, input_ids, attention_mask=None) -> jax.Array:
        """Token ids -> (B, L, d_model) float32 embeddings with zero rows at padding positions.

        Without `attention_mask`, `input_ids` are unpadded sequences (one list, or a list of lists) that
        are padded to `max_length`. With it, both are (B, L) arrays used as they are.
        """
        if attention_mask is None:
            input_ids, attention_mask = self.pad_ids(input_ids)
        input_ids = jnp.asarray(input_ids, jnp.int32)
        attention_mask = jnp.asarray(attention_mask, jnp.int32)
        if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
            raise ValueError(
                f"input_ids {input_ids.shape} and attention_mask {attention_mask.shape} must both be (batch, length)"
            )
        return self._forward(self.params, input_ids, attention_mask)

    def encode(self, prompts: str | Sequence[str]) -> jax.Array:
        """Prompts -> (B, max_length, d_model) embeddings (needs a tokenizer)."""
        ids, mask = self.tokenize(prompts)
        return self.encode_ids(ids, mask)

    def embed_prompt(
        self, prompt: str, cache: "PromptCache | None" = None, token_ids: Sequence[int] | None = None
    ) -> jax.Array:
        """Embeddings (max_length, d_model) of one prompt, through `cache` when given.

        `token_ids` replaces the tokenizer (the cache is still keyed by the prompt text).
        """

        def compute():
            if token_ids is not None:
                return self.encode_ids(token_ids)[0]
            return self.encode(prompt)[0]

        if cache is None:
            return compute()
        return cache.get_or_compute(self.identity, prompt, compute)


# --------------------------------------------------------------------------------------------------
# Prompt cache
# --------------------------------------------------------------------------------------------------


class PromptCache:
    """Prompt embeddings keyed by (encoder identity, prompt text), in memory and optionally on disk.

    On disk each entry is ``<directory>/<key>.npz`` holding ``embeddings`` (float32) plus the prompt and
    identity (checked on read, so a hash collision or a stray file is never served). Files are written
    atomically.
    """

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[str, jax.Array] = {}

    @staticmethod
    def key(identity: str, prompt: str) -> str:
        return hashlib.sha256(f"{identity}\0{prompt}".encode("utf-8")).hexdigest()[:32]

    def _file(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.npz"

    def get(self, identity: str, prompt: str) -> jax.Array | None:
        key = self.key(identity, prompt)
        if key in self._memory:
            return self._memory[key]
        file = self._file(key)
        if file is None or not file.is_file():
            return None
        try:
            with np.load(file, allow_pickle=False) as data:
                if str(data["prompt"]) != prompt or str(data["identity"]) != identity:
                    logger.warning("prompt cache file %s belongs to another prompt/encoder; ignoring it", file)
                    return None
                value = jnp.asarray(data["embeddings"])
        except (OSError, ValueError, KeyError) as error:
            logger.warning("prompt cache file %s is unreadable (%s); recomputing", file, error)
            return None
        self._memory[key] = value
        return value

    def put(self, identity: str, prompt: str, embeddings) -> None:
        key = self.key(identity, prompt)
        value = jnp.asarray(embeddings)
        self._memory[key] = value
        file = self._file(key)
        if file is not None:
            buffer = io.BytesIO()
            np.savez(
                buffer,
                embeddings=np.asarray(value, np.float32),
                prompt=np.asarray(prompt),
                identity=np.asarray(identity),
            )
            with atomic_path(file) as tmp:
                tmp.write_bytes(buffer.getvalue())

    def get_or_compute(self, identity: str, prompt: str, compute: Callable[[], Any]) -> jax.Array:
        value = self.get(identity, prompt)
        if value is None:
            value = jnp.asarray(compute())
            self.put(identity, prompt, value)
        return value

    def __len__(self) -> int:
        return len(self._memory)


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def load_umt5_encoder(
    path: str | Path,
    *,
    dtype: Any = "bfloat16",
    precision: Any = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    tokenizer: str | Path | None = None,
) -> UMT5TextEncoder:
    """Load a transformers `UMT5EncoderModel` folder (or a pipeline folder with ``text_encoder/``).

    `tokenizer`: a tokenizer folder for `transformers.AutoTokenizer`; by default a sibling ``tokenizer/``
    folder of a pipeline is used when present. Without one, encode token ids directly.
    """
    folder = component_folder(
        path, "text_encoder", "a transformers UMT5EncoderModel folder (config.json + model.safetensors or shards)"
    )
    data = json.loads((folder / "config.json").read_text())
    model_type = data.get("model_type")
    if model_type not in (None, "umt5", "t5"):
        raise ValueError(f"{folder / 'config.json'} describes a {model_type!r} model, not umT5")
    config = UMT5Config.from_dict(data)
    files = checkpoint_files(folder, (TRANSFORMERS_STEM, "pytorch_model"))
    expected = umt5_param_shapes(config)
    params = umt5_params_from_tensors(iter_tensors(files), expected, resolve_dtype(dtype), str(folder))
    if tokenizer is None and (folder.parent / "tokenizer").is_dir() and folder.name == "text_encoder":
        tokenizer = folder.parent / "tokenizer"
    tok = None
    if tokenizer is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer))
    source = json.dumps([str(folder.resolve())] + [[f.name, f.stat().st_size] for f in files])
    return UMT5TextEncoder(
        config, params, dtype=dtype, precision=precision, max_length=max_length, tokenizer=tok, source=source
    )


__all__ = [
    "UMT5Config",
    "UMT5EncoderModule",
    "UMT5TextEncoder",
    "PromptCache",
    "load_umt5_encoder",
    "relative_position_buckets",
    "clean_prompt",
    "H2R_PROMPT",
    "DEFAULT_MAX_LENGTH",
]
