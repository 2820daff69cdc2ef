"""The one reader of Wan checkpoints, shared by the transformer, VAE and text-encoder loaders.

It answers four questions and nothing model-specific:
  * which files hold the weights (`component_folder` finds a model's folder in a pipeline,
    `checkpoint_files` its weights: one file, a folder, or the shards of a ``*.safetensors.index.json``);
  * what tensors they hold (`tensor_shapes`, read from the headers) and their values, one tensor at a
    time (`iter_tensors`, `iter_state_dict`), so a load never holds two full copies of the weights;
  * what a dtype name means (`DTYPES`, `resolve_dtype`: the only table of them);
  * where a converted tensor goes (`place`, `sharding_lookup`): cast on the host, then put on the device
    or straight onto its shards.
`build_params` assembles a Flax parameter tree from such a stream for loaders whose parameters share one
dtype (the VAE and the text encoder).

safetensors files are read with ``safetensors.safe_open(framework="numpy")`` (bfloat16 arrives as
``ml_dtypes.bfloat16``). PyTorch pickles (.pth/.pt/.ckpt/.bin) are read only where a caller allows them
(the original-layout VAE file), through torch, which is imported only then.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import jax.numpy as jnp
import numpy as np

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
TORCH_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
# Weight-file stems that diffusers and transformers `save_pretrained` write.
DIFFUSERS_STEM = "diffusion_pytorch_model"
TRANSFORMERS_STEM = "model"

# A tensor transform: (checkpoint key, host array, target shape) -> array with the target shape.
Transform = Callable[[str, np.ndarray, tuple[int, ...]], np.ndarray]


# --------------------------------------------------------------------------------------------------
# dtypes and placement


def resolve_dtype(dtype: Any) -> Any:
    """The JAX scalar type of a dtype name ("float32", "bfloat16", "float16") or dtype-like; None is float32."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(DTYPES)}")
        return DTYPES[dtype]
    return jnp.dtype(dtype).type if dtype is not None else jnp.float32


def place(array: Any, dtype: Any, sharding: Any = None):
    """`array` cast to `dtype` on the host, then put on the default device or onto `sharding`'s devices.

    Casting first means only the cast copy crosses to the device, and a sharded array never exists
    whole on one device.
    """
    import jax

    return jax.device_put(np.ascontiguousarray(array, dtype=jnp.dtype(dtype)), sharding)


def sharding_lookup(shardings: Any) -> Callable[[tuple[str, ...]], Any] | None:
    """A function parameter path -> sharding, from such a function or a pytree of shardings (None: none)."""
    if shardings is None or callable(shardings):
        return shardings
    import jax

    flat = jax.tree_util.tree_flatten_with_path(shardings)[0]
    return {tuple(part.key for part in keypath): sharding for keypath, sharding in flat}.__getitem__


# --------------------------------------------------------------------------------------------------
# Which files


def _index_shards(index: Path) -> list[Path]:
    """The shard files a ``*.safetensors.index.json`` lists, all present."""
    try:
        weight_map = json.loads(index.read_text()).get("weight_map")
    except (json.JSONDecodeError, AttributeError) as error:
        raise ValueError(f"{index}: not a safetensors index ({error}); re-download or remove it") from None
    if not weight_map:
        raise ValueError(f"{index}: no weight_map listing the shards; re-download or remove it")
    files = [index.parent / name for name in sorted(set(weight_map.values()))]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{index} lists shards that are missing: {missing}; download them beside it")
    return files


def component_folder(path: str | Path, subfolder: str, description: str) -> Path:
    """The folder of one model: `path` when it holds a config.json, else its pipeline `subfolder`
    (``vae/``, ``text_encoder/``, ...) when that does. `description` says what the folder should hold."""
    path = Path(path)
    for folder in (path, path / subfolder):
        if (folder / "config.json").is_file():
            return folder
    raise FileNotFoundError(
        f"no config.json in {path} (nor in {path / subfolder}): point to {description} or to a pipeline "
        f"folder with a {subfolder}/ subfolder"
    )


def checkpoint_files(path: str | Path, stems: Sequence[str] = (DIFFUSERS_STEM,)) -> list[Path]:
    """The weight files of a checkpoint, in reading order.

    A file is its own checkpoint. In a folder, for each stem in turn: the shards of
    ``<stem>.safetensors.index.json``, or ``<stem>.safetensors``; then the shards of any other index;
    then every ``*.safetensors``.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint at {path} (neither a weight file nor a folder)")
    for stem in stems:
        index, single = path / f"{stem}.safetensors.index.json", path / f"{stem}.safetensors"
        if index.is_file():
            return _index_shards(index)
        if single.is_file():
            return [single]
    other_indexes = sorted(path.glob("*.safetensors.index.json"))
    if other_indexes:
        return _index_shards(other_indexes[0])
    files = sorted(path.glob("*.safetensors"))
    if files:
        return files
    looked_for = ", ".join(f"{stem}.safetensors" for stem in stems)
    raise FileNotFoundError(
        f"no safetensors weights in {path} (looked for {looked_for}, .safetensors.index.json shards, or any "
        "*.safetensors); .bin/.pth folders are not read: save the model with `save_pretrained(..., "
        "safe_serialization=True)` or convert the files with `safetensors.torch.save_file`."
    )


# --------------------------------------------------------------------------------------------------
# What tensors


def _is_torch_file(path: Path, allow_torch: bool) -> bool:
    if path.suffix not in TORCH_SUFFIXES:
        return False
    if not allow_torch:
        raise ValueError(
            f"{path} is a PyTorch pickle; this loader reads .safetensors only. Convert it once with "
            "`safetensors.torch.save_file(torch.load(PATH), OUT.safetensors)` and load that."
        )
    return True


@contextmanager
def _open_safetensors(path: Path, allow_torch: bool = False):
    from safetensors import SafetensorError, safe_open

    try:
        handle = safe_open(str(path), framework="numpy")
    except SafetensorError as error:
        expected = "a .safetensors file" + (f" or a PyTorch pickle ({', '.join(TORCH_SUFFIXES)})" if allow_torch else "")
        raise ValueError(f"{path}: not a readable safetensors file ({error}); expected {expected}") from None
    with handle:
        yield handle


def _torch_state_dict(path: Path) -> Mapping[str, Any]:
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{path} is a PyTorch pickle; reading it needs torch (`pip install torch`, CPU build is enough). "
            "Alternatively convert it once to .safetensors (safetensors.torch.save_file) and load that."
        ) from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # files in torch's legacy (pre-zip) format cannot be memory-mapped
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state dict (name -> tensor), found {type(state).__name__}")
    return state


def tensor_shapes(files: Iterable[str | Path], *, allow_torch: bool = False) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of the files, from the safetensors headers (no tensor data is read).

    `allow_torch`: also read PyTorch pickles (loaded through torch, memory-mapped where possible).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for file in map(Path, files):
        if _is_torch_file(file, allow_torch):
            shapes.update((k, tuple(v.shape)) for k, v in _torch_state_dict(file).items())
            continue
        with _open_safetensors(file, allow_torch) as handle:
            shapes.update((k, tuple(handle.get_slice(k).get_shape())) for k in handle.keys())
    return shapes


def iter_safetensors(path: str | Path) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, host array)`` for every tensor of one safetensors file, one at a time, in its stored dtype."""
    with _open_safetensors(Path(path)) as handle:
        for name in handle.keys():
            yield name, handle.get_tensor(name)


def iter_state_dict(state_dict: Mapping[str, Any]) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, host array)`` for an in-memory state dict; torch tensors come as float32 NumPy arrays
    (NumPy has no bfloat16 view of a torch tensor), anything else through `np.asarray`."""
    for name, value in state_dict.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().float().numpy()
        yield name, np.asarray(value)


def iter_tensors(files: Iterable[str | Path], *, allow_torch: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, host array)`` for every tensor of the files in order, one at a time.

    safetensors tensors keep their stored dtype; with `allow_torch`, tensors of PyTorch pickles come as
    float32.
    """
    for file in map(Path, files):
        if _is_torch_file(file, allow_torch):
            yield from iter_state_dict(_torch_state_dict(file))
        else:
            yield from iter_safetensors(file)


# --------------------------------------------------------------------------------------------------
# Assembling a parameter tree


def nest(flat: Mapping[tuple[str, ...], Any]) -> dict:
    """A nested dict from path -> leaf (``("a", "b"): x`` becomes ``{"a": {"b": x}}``)."""
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _flatten_shapes(tree: Mapping, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], tuple[int, ...]]:
    flat: dict[tuple[str, ...], tuple[int, ...]] = {}
    for name, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten_shapes(value, prefix + (name,)))
        else:
            flat[prefix + (name,)] = tuple(value.shape)
    return flat


def _mismatch_report(source: str, missing: list[str], unexpected: list[str]) -> str:
    lines = [f"{source}: the checkpoint does not match the model built from its config.json."]
    for label, names in (("missing parameters", missing), ("unexpected tensors", unexpected)):
        if names:
            more = " ..." if len(names) > 12 else ""
            lines.append(f"  {label} ({len(names)}): {names[:12]}{more}")
    return "\n".join(lines)


def build_params(
    tensors: Iterable[tuple[str, np.ndarray]],
    expected: Mapping,
    key_to_path: Callable[[str], tuple[str, ...] | None],
    transform: Transform,
    dtype: Any,
    source: str,
) -> dict:
    """Assemble a Flax parameter tree from streamed ``(checkpoint key, array)`` pairs.

    `expected` is the tree of shapes the Flax model wants (e.g. from `jax.eval_shape` of its init);
    `key_to_path` maps a checkpoint key to a Flax path (None: ignore the tensor); every leaf is cast to
    `dtype`. Every expected parameter must be filled exactly once with the right shape; anything else is
    an error naming `source`.
    """
    want = _flatten_shapes(expected)
    loaded: dict[tuple[str, ...], Any] = {}
    unexpected: list[str] = []
    for key, array in tensors:
        path = key_to_path(key)
        if path is None:
            continue
        if path not in want:
            unexpected.append(key)
            continue
        if path in loaded:
            continue
        value = transform(key, array, want[path])
        if tuple(value.shape) != want[path]:
            raise ValueError(
                f"{source}: tensor {key!r} has shape {tuple(array.shape)}, which does not fit the model "
                f"parameter {'/'.join(path)} of shape {want[path]}; the checkpoint and its config.json disagree."
            )
        loaded[path] = place(value, dtype)
        del array, value
    missing = sorted("/".join(p) for p in set(want) - set(loaded))
    if unexpected or missing:
        raise ValueError(_mismatch_report(source, missing, unexpected))
    return nest(loaded)
