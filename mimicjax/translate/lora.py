"""LoRA adapters for the Wan transformer, kept apart from the frozen weights.

The adapter is its own pytree, laid out like the parameters but holding only
`{"lora_A": [in, rank], "lora_B": [rank, out]}` at each adapted linear layer. It is passed to the model
as the "lora" variable collection; each adapted `Linear` computes
    y = x W + b + (alpha / rank) * (x A) B
so the frozen `params` are never copied and gradients are taken with respect to the adapter alone.
`lora_B` starts at zero, so a fresh adapter leaves the model's outputs unchanged. `merge_lora` folds an
adapter into a copy of the touched kernels for inference.

Files use the diffusers/PEFT naming (`transformer.blocks.0.attn1.to_q.lora_A.weight` [rank, in],
`...lora_B.weight` [out, rank]) with rank, alpha and target modules in the `lora_adapter_metadata`
safetensors metadata entry, as diffusers' `save_lora_weights` writes them: diffusers'
`WanTransformer3DModel.load_lora_adapter` loads them, and adapters saved by diffusers or PEFT load here.
A fine-tuned condition patch embedding (`separate_condition_embedding`) travels in the same file as
`transformer.condition_embedding.weight` [out, in] (the patch embedding as a linear layer over the
flattened patch: channels, then time, height, width) and `.bias`, and the transformer options the
adapter was trained with (e.g. `mask_condition_to_target`) in a `mimicjax_model_options` metadata
entry; `load_adapter_extras` reads both.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Target names use the model's module paths inside a block ("attn1.to_q"); the diffusers spellings
# ("attn1.to_out.0", "ffn.net.0.proj", "ffn.net.2") are accepted too.
SELF_ATTENTION = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out")
_ALIASES = {"to_out.0": "to_out", "ffn.net.0.proj": "ffn.proj_in", "ffn.net.2": "ffn.proj_out"}
METADATA_KEY = "lora_adapter_metadata"
CONDITION_EMBEDDING = "condition_embedding"
MODEL_OPTIONS_KEY = "mimicjax_model_options"


def _canonical(target: str) -> str:
    for alias, name in _ALIASES.items():
        if target.endswith(alias):
            target = target[: -len(alias)] + name
    return target


def _diffusers_module(target: str) -> str:
    return target.replace("to_out", "to_out.0").replace("ffn.proj_in", "ffn.net.0.proj").replace(
        "ffn.proj_out", "ffn.net.2"
    )


@dataclasses.dataclass(frozen=True)
class LoRAConfig:
    rank: int = 32
    alpha: float = 32.0
    # Module paths inside each transformer block; default: the self-attention projections.
    targets: tuple[str, ...] = SELF_ATTENTION
    # Blocks to adapt (None: all).
    blocks: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.rank <= 0:
            raise ValueError(f"LoRA rank must be positive, got {self.rank}")
        object.__setattr__(self, "targets", tuple(_canonical(t) for t in self.targets))
        if self.blocks is not None:
            object.__setattr__(self, "blocks", tuple(int(b) for b in self.blocks))

    @property
    def scale(self) -> float:
        return float(self.alpha) / float(self.rank)


def _block_index(name: str) -> int | None:
    match = re.fullmatch(r"blocks_(\d+)", name)
    return int(match.group(1)) if match else None


def target_paths(params, config: LoRAConfig) -> list[tuple[str, ...]]:
    """Paths (into params) of the linear layers `config` adapts."""
    paths = []
    blocks = sorted((i, name) for name in params if (i := _block_index(name)) is not None)
    for index, name in blocks:
        if config.blocks is not None and index not in config.blocks:
            continue
        for target in config.targets:
            node = params[name]
            parts = tuple(target.split("."))
            for part in parts:
                if not isinstance(node, dict) or part not in node:
                    raise ValueError(f"LoRA target {target!r} not found in block {name}")
                node = node[part]
            if "kernel" not in node:
                raise ValueError(f"LoRA target {target!r} in {name} is not a linear layer")
            paths.append((name,) + parts)
    if not paths:
        raise ValueError("LoRA config adapts no layer (no matching blocks)")
    return paths


def _get(tree, path):
    for part in path:
        tree = tree[part]
    return tree


def _set(tree: dict, path, value) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def init_lora(params, config: LoRAConfig, rng: jax.Array | int = 0, dtype=jnp.float32) -> dict:
    """A fresh adapter: A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's default), B = 0."""
    if isinstance(rng, int):
        rng = jax.random.PRNGKey(rng)
    lora: dict = {}
    paths = target_paths(params, config)
    for key, path in zip(jax.random.split(rng, len(paths)), paths):
        d_in, d_out = _get(params, path)["kernel"].shape
        bound = 1.0 / math.sqrt(d_in)
        _set(lora, path, {
            "lora_A": jax.random.uniform(key, (d_in, config.rank), dtype, -bound, bound),
            "lora_B": jnp.zeros((config.rank, d_out), dtype),
        })
    return lora


def _lora_leaves(lora, prefix=()):
    """(path, {"lora_A", "lora_B"}) for every adapted layer."""
    if "lora_A" in lora:
        yield prefix, lora
        return
    for name, child in lora.items():
        yield from _lora_leaves(child, prefix + (name,))


def merge_lora(params, lora, scale: float) -> dict:
    """Params with `kernel + scale * A @ B` at every adapted layer (only those kernels are copied)."""
    def copy_path(tree, path):
        return {k: (copy_path(v, path[1:]) if path and k == path[0] else v) for k, v in tree.items()} if isinstance(tree, dict) else tree

    merged = params
    for path, factors in _lora_leaves(lora):
        merged = copy_path(merged, path)
        layer = _get(merged, path)
        kernel = layer["kernel"]
        delta = jnp.dot(factors["lora_A"].astype(jnp.float32), factors["lora_B"].astype(jnp.float32)) * scale
        layer["kernel"] = (kernel.astype(jnp.float32) + delta).astype(kernel.dtype)
    return merged


def lora_state_dict(lora, prefix: str = "transformer") -> dict[str, np.ndarray]:
    """Diffusers/PEFT-named float32 arrays: A as [rank, in], B as [out, rank] (no prefix when `prefix` is
    empty: the naming of PEFT's own `get_peft_model_state_dict`)."""
    out = {}
    lead = f"{prefix}." if prefix else ""
    for path, factors in _lora_leaves(lora):
        module = lead + path_to_module(path)
        out[f"{module}.lora_A.weight"] = np.asarray(factors["lora_A"], np.float32).T.copy()
        out[f"{module}.lora_B.weight"] = np.asarray(factors["lora_B"], np.float32).T.copy()
    return out


def _target_modules(config: LoRAConfig) -> list[str]:
    """PEFT `target_modules`: module-name suffixes, or full block paths when only some blocks are adapted
    (a suffix would make PEFT adapt every block)."""
    names = sorted({_diffusers_module(t) for t in config.targets})
    if config.blocks is None:
        return names
    return [f"blocks.{b}.{name}" for b in sorted(config.blocks) for name in names]


def save_lora(
    path: str | Path, lora, config: LoRAConfig, prefix: str = "transformer", condition_embedding=None,
    model_options: dict | None = None,
) -> Path:
    """Write the adapter as a diffusers-style LoRA safetensors file (atomically).

    The layout is what diffusers' `save_lora_weights` writes: keys prefixed by `prefix`, and a
    `lora_adapter_metadata` entry holding the PEFT `LoraConfig` fields under the same prefix, so
    `WanTransformer3DModel.load_lora_adapter(..., prefix="transformer")` and the Wan pipelines'
    `load_lora_weights` rebuild the same adapter. `condition_embedding` ({"kernel", "bias"}) and
    `model_options` (`WanConfig` fields the adapter needs), when given, are stored beside it.
    """
    from safetensors.numpy import save

    from mimicjax.io_utils import atomic_write_bytes

    fields = {"r": config.rank, "lora_alpha": config.alpha, "target_modules": _target_modules(config)}
    metadata = {f"{prefix}.{k}": v for k, v in fields.items()} if prefix else fields
    tensors = lora_state_dict(lora, prefix)
    if condition_embedding is not None:
        lead = f"{prefix}." if prefix else ""
        tensors[f"{lead}{CONDITION_EMBEDDING}.weight"] = np.asarray(condition_embedding["kernel"], np.float32).T.copy()
        tensors[f"{lead}{CONDITION_EMBEDDING}.bias"] = np.asarray(condition_embedding["bias"], np.float32)
    header = {"format": "pt", METADATA_KEY: json.dumps(metadata, sort_keys=True)}
    if model_options:
        header[MODEL_OPTIONS_KEY] = json.dumps(model_options, sort_keys=True)
    blob = save(tensors, metadata=header)
    atomic_write_bytes(path, blob)
    return Path(path)


def _pattern_value(patterns: dict, module: str, default):
    """PEFT's per-module override (`rank_pattern` / `alpha_pattern`): a key matches a module whose name
    ends with it (at a dot boundary)."""
    for pattern, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def load_lora(path: str | Path, prefix: str = "transformer") -> tuple[dict, LoRAConfig]:
    """(adapter pytree, LoRAConfig) from a diffusers/PEFT LoRA safetensors file.

    Reads both layouts diffusers writes: the pipeline's `save_lora_weights` (keys and metadata prefixed
    by `prefix`) and the model's `save_lora_adapter` / PEFT (unprefixed keys, the `LoraConfig` as
    metadata). Without metadata, alpha defaults to the rank (scale 1), which is how diffusers treats such
    files. Per-module ranks or alphas (PEFT's `rank_pattern` / `alpha_pattern`, `use_rslora`) are folded
    into `lora_B`, so one `LoRAConfig.scale` reproduces every layer.
    """
    from safetensors import safe_open

    from mimicjax.translate.wan.convert import diffusers_key_to_path

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no LoRA file at {path}")
    factors: dict[tuple[str, ...], dict[str, np.ndarray]] = {}
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata() or {}
        keys = list(f.keys())
        if any(k.startswith(f"{prefix}.") for k in keys):  # a pipeline file: only this component's keys
            keys = [k for k in keys if k.startswith(f"{prefix}.")]
        for key in keys:
            if _is_condition_embedding(key, prefix):  # read by `load_condition_embedding`
                continue
            match = re.fullmatch(rf"(?:{re.escape(prefix)}\.)?(.+)\.(lora_A|lora_B)(?:\.[\w-]+)?\.weight", key)
            if match is None:
                raise ValueError(
                    f"{path}: {key!r} is not a LoRA A/B weight (only plain LoRA is read: no DoRA magnitudes, "
                    "LoRA biases or other adapter types)"
                )
            module, which = match.groups()
            try:
                flax_path, _ = diffusers_key_to_path(module + ".weight")
            except KeyError:
                raise ValueError(f"{path}: {key!r} does not name a layer of the Wan transformer") from None
            factors.setdefault(flax_path[:-1], {})[which] = f.get_tensor(key).astype(np.float32).T
    if not factors:
        raise ValueError(f"{path}: no LoRA weights found")
    incomplete = sorted(".".join(p) for p, ab in factors.items() if set(ab) != {"lora_A", "lora_B"})
    if incomplete:
        raise ValueError(f"{path}: layers without both lora_A and lora_B: {incomplete[:8]}")

    info = json.loads(metadata[METADATA_KEY]) if METADATA_KEY in metadata else {}
    if any(k.startswith(f"{prefix}.") for k in info):
        info = {k[len(prefix) + 1:]: v for k, v in info.items() if k.startswith(f"{prefix}.")}

    def layer_scale(flax_module: tuple[str, ...], rank: int) -> float:
        module = path_to_module(flax_module)
        rank = int(_pattern_value(info.get("rank_pattern"), module, rank))
        alpha = float(_pattern_value(info.get("alpha_pattern"), module, info.get("lora_alpha", rank)))
        return alpha / (math.sqrt(rank) if info.get("use_rslora") else rank)

    paths = sorted(factors)
    ranks = {p: factors[p]["lora_A"].shape[1] for p in paths}
    scales = {p: layer_scale(p, ranks[p]) for p in paths}
    rank = int(info.get("r", ranks[paths[0]]))
    scale = scales[paths[0]]
    lora: dict = {}
    for p in paths:
        lora_b = factors[p]["lora_B"]
        if not math.isclose(scales[p], scale, rel_tol=1e-6):
            lora_b = lora_b * (scales[p] / scale)
        _set(lora, p + ("lora_A",), jnp.asarray(factors[p]["lora_A"]))
        _set(lora, p + ("lora_B",), jnp.asarray(lora_b))
    targets = tuple(sorted({".".join(p[1:]) for p in paths}))
    return lora, LoRAConfig(rank=rank, alpha=scale * rank, targets=targets)


def _is_condition_embedding(key: str, prefix: str) -> bool:
    return re.fullmatch(rf"(?:{re.escape(prefix)}\.)?{CONDITION_EMBEDDING}\.(weight|bias)", key) is not None


def load_adapter_extras(path: str | Path, prefix: str = "transformer") -> tuple[dict | None, dict]:
    """(condition patch embedding {"kernel" [in, out], "bias"} or None, transformer options) saved with
    an adapter by `save_lora`; (None, {}) for a plain LoRA file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        found = {key.rsplit(".", 1)[1]: f.get_tensor(key) for key in f.keys() if _is_condition_embedding(key, prefix)}
        options = json.loads((f.metadata() or {}).get(MODEL_OPTIONS_KEY, "{}"))
    if not found:
        return None, options
    if set(found) != {"weight", "bias"}:
        raise ValueError(f"{path}: {CONDITION_EMBEDDING} needs both .weight and .bias, found only {sorted(found)}")
    return {"kernel": jnp.asarray(found["weight"].T), "bias": jnp.asarray(found["bias"])}, options


def path_to_module(flax_module: tuple[str, ...]) -> str:
    """Diffusers module name of a layer path of the model (``("blocks_0", "attn1", "to_out")`` ->
    ``blocks.0.attn1.to_out.0``)."""
    from mimicjax.translate.wan.convert import path_to_diffusers_key

    return path_to_diffusers_key(tuple(flax_module) + ("kernel",))[: -len(".weight")]


def apply_with_lora(model, params, lora, config: LoRAConfig, *args, **kwargs) -> Any:
    """Run a `WanModel` with an adapter: `model.with_params(lora_scale=...)` once, then `apply`."""
    bound = model if math.isclose(model.lora_scale, config.scale) else model.with_params(lora_scale=config.scale)
    return bound.apply(params, *args, lora=lora, **kwargs)
