"""Logical sharding of the Wan transformer over a (data, fsdp, tensor) device mesh.

Every parameter gets logical axis names from its path; `rules` map logical names to mesh axes:
  batch -> (data, fsdp)     the batch of videos is split over data-parallel and FSDP devices
  embed -> fsdp             model-width rows of the big matrices are split FSDP-style (ZeRO-3)
  heads -> tensor           q/k/v columns and attention-output rows: Megatron tensor parallelism
  mlp   -> tensor           FFN hidden units
A dimension whose size does not divide by its mesh axes is left unsplit. Inside `jit`, GSPMD inserts
the all-gathers and reductions; activations follow from the input and parameter shardings.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mimicjax.distributed import make_mesh

MESH_AXES = ("data", "fsdp", "tensor")
DEFAULT_RULES: tuple[tuple[str, str | tuple[str, ...] | None], ...] = (
    ("batch", ("data", "fsdp")),
    ("embed", "fsdp"),
    ("heads", "tensor"),
    ("mlp", "tensor"),
)

_COLUMN = {"to_q": "heads", "to_k": "heads", "to_v": "heads", "proj_in": "mlp"}
_ROW = {"to_out": "heads", "proj_out": "mlp"}


def make_translate_mesh(data: int = -1, fsdp: int = 1, tensor: int = 1, devices=None) -> Mesh:
    """A mesh with axes (data, fsdp, tensor); one size may be -1 (the remaining devices)."""
    return make_mesh({"data": data, "fsdp": fsdp, "tensor": tensor}, devices)


def param_logical_axes(path: Sequence[str], ndim: int) -> tuple[str | None, ...]:
    """Logical axis names of the parameter at `path` (a tuple of dict keys)."""
    leaf = path[-1]
    layer = path[-2] if len(path) >= 2 else ""
    in_block = path[0].startswith("blocks_")
    if leaf in ("kernel", "lora_A", "lora_B") and ndim == 2 and in_block:
        if layer in _COLUMN:
            return {"kernel": ("embed", _COLUMN[layer]), "lora_A": ("embed", None), "lora_B": (None, _COLUMN[layer])}[leaf]
        if layer in _ROW and (layer != "proj_out" or path[-3] == "ffn"):
            return {"kernel": (_ROW[layer], "embed"), "lora_A": (_ROW[layer], None), "lora_B": (None, "embed")}[leaf]
    if leaf == "bias" and in_block and layer in _COLUMN:
        return (_COLUMN[layer],)
    if leaf == "scale" and layer in ("norm_q", "norm_k"):
        return ("heads",)
    if leaf == "kernel" and ndim == 2:
        # embeddings, time MLP and output head: split the model-width side FSDP-style
        if layer in ("patch_embedding", "condition_embedding", "proj_out") or path[-3:-1] == ("time_embedder", "linear_1"):
            return (None, "embed") if layer != "proj_out" else ("embed", None)
    return (None,) * ndim


def logical_to_spec(
    axes: Sequence[str | None], shape: Sequence[int], mesh: Mesh, rules=DEFAULT_RULES
) -> PartitionSpec:
    table: Mapping = dict(rules)
    spec = []
    for name, size in zip(axes, shape):
        mesh_axes = table.get(name) if name is not None else None
        if mesh_axes is None:
            spec.append(None)
            continue
        mesh_axes = (mesh_axes,) if isinstance(mesh_axes, str) else tuple(mesh_axes)
        mesh_axes = tuple(a for a in mesh_axes if a in mesh.shape and mesh.shape[a] > 1)
        total = 1
        for a in mesh_axes:
            total *= mesh.shape[a]
        if not mesh_axes or size % total:
            spec.append(None)
        else:
            spec.append(mesh_axes[0] if len(mesh_axes) == 1 else mesh_axes)
    return PartitionSpec(*spec)


def param_shardings(params, mesh: Mesh, rules=DEFAULT_RULES):
    """A pytree of NamedSharding matching `params` (arrays or ShapeDtypeStructs)."""
    def one(keypath, leaf):
        path = tuple(k.key for k in keypath)
        return NamedSharding(mesh, logical_to_spec(param_logical_axes(path, leaf.ndim), leaf.shape, mesh, rules))

    return jax.tree_util.tree_map_with_path(one, params)


def batch_spec(ndim: int, batch_size: int, mesh: Mesh, rules=DEFAULT_RULES) -> NamedSharding:
    """Sharding of an input whose leading axis is the batch."""
    return NamedSharding(mesh, logical_to_spec(("batch",) + (None,) * (ndim - 1), (batch_size,) + (1,) * (ndim - 1), mesh, rules))


def shard_params(params, mesh: Mesh, rules=DEFAULT_RULES):
    """Place parameters on the mesh according to the rules."""
    return jax.device_put(params, param_shardings(params, mesh, rules))


def shard_inputs(mesh: Mesh, *arrays, rules=DEFAULT_RULES):
    """Place batch-leading inputs (None passes through) on the mesh."""
    return tuple(
        None if a is None else jax.device_put(a, batch_spec(a.ndim, a.shape[0], mesh, rules)) for a in arrays
    )
