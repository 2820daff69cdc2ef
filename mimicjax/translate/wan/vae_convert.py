"""Reading diffusers / transformers safetensors checkpoints into Flax parameter trees.

Checkpoints are streamed one tensor at a time (`safetensors.safe_open`): each tensor is read to host
memory, laid out for Flax, cast and placed on the device before the next one is read, so a load never
holds two full copies of the weights.

Key mapping: a PyTorch key such as ``decoder.up_blocks.0.resnets.1.conv1.weight`` becomes the Flax path
``("decoder", "up_blocks_0", "resnets_1", "conv1", "kernel")``: a numeric component is joined to the
name before it (that is how the Flax modules here name list entries), and the leaf name is translated
by the model's own rule (``weight`` -> ``kernel``/``embedding``/``scale`` ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

# A tensor transform: (torch key, host array, target shape) -> array with the target shape.
Transform = Callable[[str, np.ndarray, tuple[int, ...]], np.ndarray]


def torch_key_to_path(key: str) -> tuple[str, ...]:
    """``a.b.0.c.weight`` -> ``("a", "b_0", "c", "weight")``."""
    path: list[str] = []
    for part in key.split("."):
        if part.isdigit() and path:
            path[-1] = f"{path[-1]}_{part}"
        else:
            path.append(part)
    return tuple(path)


def checkpoint_files(folder: str | Path, stems: Iterable[str]) -> list[Path]:
    """The safetensors files of a checkpoint folder: ``<stem>.safetensors`` or the shards listed in
    ``<stem>.safetensors.index.json``, trying each stem in turn."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint folder not found: {folder}")
    for stem in stems:
        single = folder / f"{stem}.safetensors"
        if single.is_file():
            return [single]
        index = folder / f"{stem}.safetensors.index.json"
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
            files = [folder / name for name in sorted(set(weight_map.values()))]
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                raise FileNotFoundError(f"{index} lists shards that are missing: {missing}")
            return files
    found = sorted(p.name for p in folder.glob("*.safetensors"))
    if found:
        return [folder / name for name in found]
    raise FileNotFoundError(
        f"no safetensors weights in {folder} (looked for {', '.join(f'{s}.safetensors' for s in stems)}, "
        "their .index.json shards, or any *.safetensors). Save the model with `save_pretrained(..., "
        "safe_serialization=True)`."
    )


def iter_safetensors(files: Iterable[Path]) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(key, host array)`` for every tensor, one at a time (bfloat16 comes as ml_dtypes.bfloat16)."""
    from safetensors import safe_open

    for file in files:
        with safe_open(str(file), framework="numpy") as handle:
            for key in handle.keys():
                yield key, handle.get_tensor(key)


def _set_path(tree: dict, path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _flatten_shapes(tree: Mapping, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], tuple[int, ...]]:
    flat: dict[tuple[str, ...], tuple[int, ...]] = {}
    for name, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten_shapes(value, prefix + (name,)))
        else:
            flat[prefix + (name,)] = tuple(value.shape)
    return flat


def build_params(
    tensors: Iterable[tuple[str, np.ndarray]],
    expected: Mapping,
    key_to_path: Callable[[str], tuple[str, ...] | None],
    transform: Transform,
    dtype: Any,
    source: str,
) -> dict:
    """Assemble a Flax parameter tree from streamed ``(torch key, array)`` pairs.

    `expected` is the tree of shapes the Flax model wants (e.g. from `jax.eval_shape` of its init);
    `key_to_path` maps a torch key to a Flax path (None: ignore the tensor). Every expected parameter
    must be filled exactly once with the right shape; anything else is an error naming `source`.
    """
    import jax
    import jax.numpy as jnp

    want = _flatten_shapes(expected)
    params: dict = {}
    filled: set[tuple[str, ...]] = set()
    unexpected: list[str] = []
    for key, array in tensors:
        path = key_to_path(key)
        if path is None:
            continue
        if path not in want:
            unexpected.append(key)
            continue
        if path in filled:
            continue
        value = transform(key, array, want[path])
        if tuple(value.shape) != want[path]:
            raise ValueError(
                f"{source}: tensor {key!r} has shape {tuple(array.shape)}, which does not fit the model "
                f"parameter {'/'.join(path)} of shape {want[path]}; the checkpoint and its config.json disagree."
            )
        _set_path(params, path, jax.device_put(jnp.asarray(value, dtype=dtype)))
        filled.add(path)
        del array, value
    missing = sorted("/".join(p) for p in set(want) - filled)
    if unexpected or missing:
        lines = [f"{source}: the checkpoint does not match the model built from its config.json."]
        if missing:
            more = " ..." if len(missing) > 12 else ""
            lines.append(f"  missing parameters ({len(missing)}): {missing[:12]}{more}")
        if unexpected:
            more = " ..." if len(unexpected) > 12 else ""
            lines.append(f"  unexpected tensors ({len(unexpected)}): {unexpected[:12]}{more}")
        raise ValueError("\n".join(lines))
    return params


def torch_conv_to_flax(key: str, array: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """Layout rule shared by the convolutional models: conv kernels OI(D)HW -> (D)HWIO, linear weights
    OI -> IO, everything else (biases, norm scales stored as (C, 1, 1[, 1])) reshaped to the target."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "weight" and array.ndim == 5:
        array = np.transpose(array, (2, 3, 4, 1, 0))
    elif leaf == "weight" and array.ndim == 4:
        array = np.transpose(array, (2, 3, 1, 0))
    elif leaf == "weight" and array.ndim == 2:
        array = np.transpose(array, (1, 0))
    if tuple(array.shape) != tuple(target) and array.size == int(np.prod(target)):
        array = array.reshape(target)
    return array


def vae_key_to_path(key: str) -> tuple[str, ...]:
    path = torch_key_to_path(key)
    leaf = path[-1]
    if leaf == "weight":
        leaf = "kernel"
    return path[:-1] + (leaf,)


def vae_params_from_tensors(
    tensors: Iterable[tuple[str, np.ndarray]], expected: Mapping, dtype: Any, source: str
) -> dict:
    """Flax parameters of `mimicjax.translate.wan.vae.WanVAEModule` from diffusers `AutoencoderKLWan` tensors."""
    return build_params(tensors, expected, vae_key_to_path, torch_conv_to_flax, dtype, source)


def vae_params_from_state_dict(state_dict: Mapping[str, Any], expected: Mapping, dtype: Any) -> dict:
    """Same as `vae_params_from_tensors` for an in-memory state dict (torch tensors or arrays)."""

    def tensors():
        for key, value in state_dict.items():
            if hasattr(value, "detach"):
                value = value.detach().cpu().float().numpy()
            yield key, np.asarray(value)

    return vae_params_from_tensors(tensors(), expected, dtype, "state dict")
