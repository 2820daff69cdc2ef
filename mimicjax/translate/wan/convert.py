"""Load Wan transformer checkpoints into Flax parameters.

Two key layouts are read:
  * diffusers (`WanTransformer3DModel.save_pretrained`): a folder with `config.json` and
    `diffusion_pytorch_model.safetensors`, or shards listed by `*.safetensors.index.json`;
  * the original Wan repository (`blocks.N.self_attn.q.weight`, `head.head.weight`, ...), optionally
    prefixed by `model.diffusion_model.`; its config.json (`dim`, `num_heads`, ...) or an explicit config.

Files are found, read and placed by `checkpoint_io`: tensors are streamed one at a time from the
safetensors files, converted to the parameter dtype and placed on the device (with a sharding if given)
before the next is read, so only one tensor at a time is on the host beside the device parameters.
float32, float16 and bfloat16 files are read.

Diffusers name -> Flax path (nested dict):
  patch_embedding.weight [D, C, pt, ph, pw]   -> patch_embedding/kernel [C*pt*ph*pw, D]
  X.weight (Linear, [out, in])                 -> X/kernel [in, out]
  blocks.N.attn1.to_out.0                      -> blocks_N/attn1/to_out
  blocks.N.ffn.net.0.proj / ffn.net.2          -> blocks_N/ffn/proj_in / proj_out
  *.norm_q / norm_k / norm2 .weight            -> .../scale
Original Wan name -> diffusers name: self_attn/cross_attn -> attn1/attn2, q/k/v/o -> to_q/to_k/to_v/
to_out.0, modulation -> scale_shift_table, ffn.0/ffn.2 -> ffn.net.0.proj/ffn.net.2, head.head ->
proj_out, time_embedding.0/2 -> condition_embedder.time_embedder.linear_1/2, time_projection.1 ->
condition_embedder.time_proj, text_embedding.0/2 -> condition_embedder.text_embedder.linear_1/2, and
the original `norm3` (the affine cross-attention norm) is diffusers' `norm2`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from mimicjax.translate.wan.checkpoint_io import (
    checkpoint_files,
    iter_safetensors,
    iter_state_dict,
    nest,
    place,
    sharding_lookup,
    tensor_shapes,
)
from mimicjax.translate.wan.configs import WanConfig

_NORM_MODULES = {"norm_q", "norm_k", "norm2", "norm_added_k"}
# Keys present in some published files that the model does not use.
_IGNORED_KEYS = re.compile(r"(^|\.)norm_added_q\.")


# ----------------------------------------------------------------------------------------------
# Key mapping


def diffusers_key_to_path(key: str) -> tuple[tuple[str, ...], str]:
    """Flax parameter path of a diffusers state-dict key, and how to transform the tensor:
    'linear' (transpose), 'conv' (flatten to a patch matmul kernel) or 'copy'."""
    name = re.sub(r"^blocks\.(\d+)\.", r"blocks_\1.", key)
    name = name.replace(".to_out.0.", ".to_out.")
    name = name.replace(".ffn.net.0.proj.", ".ffn.proj_in.").replace(".ffn.net.2.", ".ffn.proj_out.")
    parts = name.split(".")
    if parts[-1] == "scale_shift_table":
        return tuple(parts), "copy"
    module, leaf = parts[:-1], parts[-1]
    if leaf == "bias":
        return tuple(module) + ("bias",), "copy"
    if leaf != "weight":
        raise KeyError(key)
    if module and module[-1] in _NORM_MODULES:
        return tuple(module) + ("scale",), "copy"
    if module == ["patch_embedding"]:
        return ("patch_embedding", "kernel"), "conv"
    return tuple(module) + ("kernel",), "linear"


def path_to_diffusers_key(path: tuple[str, ...]) -> str:
    """Inverse of `diffusers_key_to_path` (for parameter paths of the model)."""
    parts = list(path)
    if parts[0].startswith("blocks_"):
        parts[0:1] = ["blocks", parts[0][len("blocks_"):]]
    leaf = parts[-1]
    if leaf in ("kernel", "scale"):
        parts[-1] = "weight"
    name = ".".join(parts)
    name = name.replace(".to_out.", ".to_out.0.")
    name = name.replace(".ffn.proj_in.", ".ffn.net.0.proj.").replace(".ffn.proj_out.", ".ffn.net.2.")
    return name


_ORIGINAL_RULES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^patch_embedding\.(weight|bias)$"), r"patch_embedding.\1"),
    (re.compile(r"^time_embedding\.0\.(weight|bias)$"), r"condition_embedder.time_embedder.linear_1.\1"),
    (re.compile(r"^time_embedding\.2\.(weight|bias)$"), r"condition_embedder.time_embedder.linear_2.\1"),
    (re.compile(r"^time_projection\.1\.(weight|bias)$"), r"condition_embedder.time_proj.\1"),
    (re.compile(r"^text_embedding\.0\.(weight|bias)$"), r"condition_embedder.text_embedder.linear_1.\1"),
    (re.compile(r"^text_embedding\.2\.(weight|bias)$"), r"condition_embedder.text_embedder.linear_2.\1"),
    (re.compile(r"^head\.head\.(weight|bias)$"), r"proj_out.\1"),
    (re.compile(r"^head\.modulation$"), r"scale_shift_table"),
    (re.compile(r"^blocks\.(\d+)\.modulation$"), r"blocks.\1.scale_shift_table"),
    (re.compile(r"^blocks\.(\d+)\.self_attn\.([qkv])\.(weight|bias)$"), r"blocks.\1.attn1.to_\2.\3"),
    (re.compile(r"^blocks\.(\d+)\.self_attn\.o\.(weight|bias)$"), r"blocks.\1.attn1.to_out.0.\2"),
    (re.compile(r"^blocks\.(\d+)\.self_attn\.norm_([qk])\.weight$"), r"blocks.\1.attn1.norm_\2.weight"),
    (re.compile(r"^blocks\.(\d+)\.cross_attn\.([qkv])\.(weight|bias)$"), r"blocks.\1.attn2.to_\2.\3"),
    (re.compile(r"^blocks\.(\d+)\.cross_attn\.o\.(weight|bias)$"), r"blocks.\1.attn2.to_out.0.\2"),
    (re.compile(r"^blocks\.(\d+)\.cross_attn\.norm_([qk])\.weight$"), r"blocks.\1.attn2.norm_\2.weight"),
    (re.compile(r"^blocks\.(\d+)\.norm3\.(weight|bias)$"), r"blocks.\1.norm2.\2"),
    (re.compile(r"^blocks\.(\d+)\.ffn\.0\.(weight|bias)$"), r"blocks.\1.ffn.net.0.proj.\2"),
    (re.compile(r"^blocks\.(\d+)\.ffn\.2\.(weight|bias)$"), r"blocks.\1.ffn.net.2.\2"),
]


def original_key_to_diffusers(key: str) -> str:
    """Diffusers name of an original-Wan state-dict key."""
    stripped = key[len("model.diffusion_model."):] if key.startswith("model.diffusion_model.") else key
    for pattern, replacement in _ORIGINAL_RULES:
        if pattern.match(stripped):
            return pattern.sub(replacement, stripped)
    raise KeyError(key)


def diffusers_key_to_original(key: str) -> str:
    """Original-Wan name of a diffusers key (inverse of `original_key_to_diffusers`)."""
    rules = [
        (r"^condition_embedder\.time_embedder\.linear_1\.", "time_embedding.0."),
        (r"^condition_embedder\.time_embedder\.linear_2\.", "time_embedding.2."),
        (r"^condition_embedder\.time_proj\.", "time_projection.1."),
        (r"^condition_embedder\.text_embedder\.linear_1\.", "text_embedding.0."),
        (r"^condition_embedder\.text_embedder\.linear_2\.", "text_embedding.2."),
        (r"^proj_out\.", "head.head."),
        (r"^scale_shift_table$", "head.modulation"),
        (r"^blocks\.(\d+)\.scale_shift_table$", r"blocks.\1.modulation"),
        (r"\.attn1\.", ".self_attn."),
        (r"\.attn2\.", ".cross_attn."),
        (r"\.to_out\.0\.", ".o."),
        (r"\.to_([qkv])\.", r".\1."),
        (r"^blocks\.(\d+)\.norm2\.", r"blocks.\1.norm3."),
        (r"\.ffn\.net\.0\.proj\.", ".ffn.0."),
        (r"\.ffn\.net\.2\.", ".ffn.2."),
    ]
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


# ----------------------------------------------------------------------------------------------
# Configs


def config_from_original(raw: Mapping[str, Any], **runtime) -> WanConfig:
    """WanConfig from the original repository's config.json (`dim`, `num_heads`, `in_dim`, ...)."""
    dim, heads = int(raw["dim"]), int(raw["num_heads"])
    if raw.get("model_type") in ("i2v", "flf2v"):
        raise NotImplementedError("image-conditioned Wan 2.1 checkpoints (model_type i2v/flf2v) are not supported")
    return WanConfig(
        patch_size=tuple(raw.get("patch_size", (1, 2, 2))),
        num_attention_heads=heads,
        attention_head_dim=dim // heads,
        in_channels=int(raw["in_dim"]),
        out_channels=int(raw.get("out_dim", raw["in_dim"])),
        text_dim=int(raw.get("text_dim", 4096)),
        freq_dim=int(raw.get("freq_dim", 256)),
        ffn_dim=int(raw["ffn_dim"]),
        num_layers=int(raw["num_layers"]),
        cross_attn_norm=bool(raw.get("cross_attn_norm", True)),
        eps=float(raw.get("eps", 1e-6)),
        **runtime,
    )


def read_config(path: str | Path, **runtime) -> WanConfig | None:
    """Config of a checkpoint folder (diffusers or original config.json), or None if it has none."""
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path.parent / "config.json"
    if not file.exists():
        return None
    raw = json.loads(file.read_text())
    if "dim" in raw and "num_heads" in raw:
        return config_from_original(raw, **runtime)
    if "num_attention_heads" in raw:
        return WanConfig.from_diffusers(raw, **runtime)
    return None


def infer_config(shapes: Mapping[str, tuple[int, ...]], head_dim: int = 128, **runtime) -> WanConfig:
    """A config from diffusers-named tensor shapes (heads assume `head_dim`, 128 in every Wan release)."""
    conv = shapes["patch_embedding.weight"]
    dim, in_channels, patch = conv[0], conv[1], tuple(conv[2:])
    layers = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("blocks."))
    if dim % head_dim:
        raise ValueError(
            f"cannot infer the number of heads: model width {dim} is not a multiple of head_dim={head_dim}; "
            "pass a WanConfig (or put a config.json beside the weights)"
        )
    return WanConfig(
        patch_size=patch,
        num_attention_heads=dim // head_dim,
        attention_head_dim=head_dim,
        in_channels=in_channels,
        out_channels=shapes["proj_out.weight"][0] // int(np.prod(patch)),
        text_dim=shapes["condition_embedder.text_embedder.linear_1.weight"][1],
        freq_dim=shapes["condition_embedder.time_embedder.linear_1.weight"][1],
        ffn_dim=shapes["blocks.0.ffn.net.0.proj.weight"][0],
        num_layers=layers,
        cross_attn_norm="blocks.0.norm2.weight" in shapes,
        **runtime,
    )


def _is_original_key(key: str) -> bool:
    return key.startswith(("model.diffusion_model.", "head.", "time_embedding.", "text_embedding.")) or bool(
        re.match(r"^blocks\.\d+\.(self_attn|cross_attn|modulation|norm3)", key)
    )


# ----------------------------------------------------------------------------------------------
# Loading


def _layout(array: np.ndarray, kind: str) -> np.ndarray:
    """A PyTorch tensor in the Flax layout: Linear [out, in] -> [in, out], the patch Conv3d
    [D, C, pt, ph, pw] -> a [C*pt*ph*pw, D] matmul kernel."""
    if kind == "linear":
        return array.T
    if kind == "conv":
        return array.reshape(array.shape[0], -1).T
    return array


class _ParamAssembler:
    """Collects converted tensors into the parameter tree of `config`, checking names and shapes."""

    def __init__(self, config: WanConfig, layout: str, shardings=None, source: str = "checkpoint"):
        import jax

        from mimicjax.translate.wan.transformer import abstract_params, without_condition_embedding

        self.config, self.layout, self.source = config, layout, source
        # Released checkpoints hold the base model; `finish` adds a separate condition embedding.
        template = jax.tree_util.tree_flatten_with_path(without_condition_embedding(abstract_params(config)))[0]
        self.expected = {tuple(p.key for p in keypath): leaf for keypath, leaf in template}
        self.sharding_of = sharding_lookup(shardings)
        self.loaded: dict[tuple[str, ...], Any] = {}

    def add(self, key: str, array: np.ndarray, where: str | None = None) -> None:
        where = where or self.source
        if _IGNORED_KEYS.search(key):
            return
        if self.layout == "original":
            try:
                name = original_key_to_diffusers(key)
            except KeyError:
                raise ValueError(f"{where}: unexpected key {key!r} for an original-layout Wan checkpoint") from None
        else:
            name = key
        try:
            flax_path, kind = diffusers_key_to_path(name)
        except KeyError:
            raise ValueError(f"{where}: unexpected tensor {key!r}") from None
        if flax_path not in self.expected:
            raise ValueError(
                f"{where}: tensor {key!r} has no place in the model (config: {self.config.num_layers} "
                "layers); is the config right for this checkpoint?"
            )
        target = self.expected[flax_path]
        value = _layout(np.asarray(array), kind)
        if value.shape != target.shape:
            raise ValueError(
                f"{where}: tensor {key!r} has shape {tuple(array.shape)}, the model expects "
                f"{target.shape} (after conversion); is the config right for this checkpoint?"
            )
        sharding = self.sharding_of(flax_path) if self.sharding_of else None
        self.loaded[flax_path] = place(value, target.dtype, sharding)

    def finish(self) -> dict:
        missing = sorted(set(self.expected) - set(self.loaded))
        if missing:
            names = [path_to_diffusers_key(p) for p in missing[:8]]
            raise ValueError(f"{self.source}: checkpoint lacks {len(missing)} tensors, e.g. {names}")
        from mimicjax.translate.wan.transformer import with_condition_embedding

        params = nest(self.loaded)
        return with_condition_embedding(params) if self.config.separate_condition_embedding else params


def _resolve_layout(layout: str, keys) -> str:
    if layout == "auto":
        return "original" if any(_is_original_key(k) for k in keys) else "diffusers"
    if layout not in ("diffusers", "original"):
        raise ValueError(f"layout must be 'diffusers', 'original' or 'auto', got {layout!r}")
    return layout


def params_from_state_dict(
    state_dict: Mapping[str, Any], config: WanConfig, *, layout: str = "auto", shardings=None
) -> dict:
    """Parameters from an in-memory state dict of NumPy arrays or torch tensors (diffusers or original names)."""
    layout = _resolve_layout(layout, state_dict.keys())
    assembler = _ParamAssembler(config, layout, shardings, source="state dict")
    for key, value in iter_state_dict(state_dict):
        assembler.add(key, value)
    return assembler.finish()


def load_transformer_params(
    path: str | Path,
    config: WanConfig | None = None,
    *,
    layout: str = "auto",
    shardings: Callable[[tuple[str, ...]], Any] | Any | None = None,
    **runtime,
) -> tuple[WanConfig, dict]:
    """Read a checkpoint into (config, params).

    `layout`: "diffusers", "original" or "auto" (decided from the key names). `config` defaults to the
    folder's config.json, else to one inferred from tensor shapes. `runtime` overrides runtime fields
    (dtype, param_dtype, remat, attention, ...). `shardings`: a pytree of `jax.sharding.Sharding`
    matching the parameters, or a function path -> Sharding; tensors go straight to their shards.
    """
    path = Path(path)
    files = checkpoint_files(path)
    shapes = tensor_shapes(files)
    layout = _resolve_layout(layout, shapes)
    if config is None:
        config = read_config(path, **runtime)
        if config is None:
            rename = original_key_to_diffusers if layout == "original" else (lambda k: k)
            config = infer_config({rename(k): v for k, v in shapes.items() if not _IGNORED_KEYS.search(k)}, **runtime)
    elif runtime:
        config = config.replace(**runtime)
    assembler = _ParamAssembler(config, layout, shardings, source=str(path))
    for file in files:
        for key, array in iter_safetensors(file):
            assembler.add(key, array, where=str(file))
            del array
    return config, assembler.finish()


def load_diffusers_transformer(path: str | Path, config: WanConfig | None = None, **runtime):
    """A `WanModel` from a diffusers-format transformer folder (or single safetensors file).

    `model(hidden_states, timestep, encoder_hidden_states)` returns what diffusers'
    `WanTransformer3DModel(...)(...).sample` returns.
    """
    from mimicjax.translate.wan.transformer import WanModel

    config, params = load_transformer_params(path, config, layout="auto", **runtime)
    return WanModel(config, params)


def load_original_transformer(path: str | Path, config: WanConfig | None = None, **runtime):
    """A `WanModel` from a checkpoint in the original Wan repository's key layout."""
    from mimicjax.translate.wan.transformer import WanModel

    config, params = load_transformer_params(path, config, layout="original", **runtime)
    return WanModel(config, params)


# ----------------------------------------------------------------------------------------------
# Orbax checkpoints of converted parameters


def save_checkpoint(directory: str | Path, config: WanConfig, params, extra: Mapping[str, Any] | None = None) -> Path:
    """Write params (and the resolved config as JSON) as an Orbax checkpoint folder.

    Orbax writes into a temporary folder and renames it when complete, so an interrupted save leaves
    no partial checkpoint.
    """
    import orbax.checkpoint as ocp

    directory = Path(directory).absolute()
    if directory.exists():
        raise FileExistsError(f"{directory} already exists; choose a new --out or remove it")
    meta = {"wan_config": config.to_dict(), **(dict(extra) if extra else {})}
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        checkpointer.save(
            directory,
            ocp.args.Composite(params=ocp.args.StandardSave(params), meta=ocp.args.JsonSave(meta)),
        )
    return directory


def load_checkpoint(directory: str | Path, **runtime):
    """(config, params, meta) from `save_checkpoint`'s folder; `runtime` overrides runtime config fields."""
    import jax
    import orbax.checkpoint as ocp

    from mimicjax.translate.wan.transformer import abstract_params, with_condition_embedding, without_condition_embedding

    directory = Path(directory).absolute()
    if not directory.is_dir():
        raise FileNotFoundError(f"no Orbax checkpoint folder at {directory}")
    if not (directory / "meta").is_dir() or not (directory / "params").is_dir():
        looks_like = ("a diffusers folder; convert it first with `mimicjax translate convert --diffusers "
                      f"{directory} --out CKPT`" if (directory / "config.json").is_file() or any(directory.glob("*.safetensors"))
                      else "not a checkpoint written by `mimicjax translate convert`")
        raise ValueError(f"{directory} is {looks_like}")
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        meta = checkpointer.restore(directory, ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        config = WanConfig.from_dict(meta["wan_config"])
        if runtime:
            config = config.replace(**runtime)
        # A converted checkpoint holds the base model; a separate condition embedding starts as its patch embedding.
        target = jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), without_condition_embedding(abstract_params(config))
        )
        params = checkpointer.restore(
            directory, ocp.args.Composite(params=ocp.args.StandardRestore(target))
        )["params"]
    if config.separate_condition_embedding:
        params = with_condition_embedding(params)
    return config, params, meta
