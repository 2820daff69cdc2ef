"""Device mesh helpers shared by the RL half and the video translator.

A batch is a sharding, not a loop: arrays carry a leading batch axis that is split over the mesh's
"data" axis. The same code runs on one CPU, several GPUs or a TPU slice; multi-device behaviour is
testable on a CPU with XLA_FLAGS=--xla_force_host_platform_device_count=N.
"""

from __future__ import annotations

import math
import os
from typing import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def initialize_multihost() -> bool:
    """Call `jax.distributed.initialize()` when launched as one process of several.

    Detects the usual launchers (an explicit JAX coordinator address, SLURM, or Cloud TPU) and does
    nothing in a single-process run. Returns whether initialisation happened.
    """
    launched = any(
        key in os.environ
        for key in ("JAX_COORDINATOR_ADDRESS", "SLURM_NTASKS", "TPU_WORKER_HOSTNAMES")
    )
    if not launched or jax.process_count() > 1:
        return False
    jax.distributed.initialize()
    return True


def make_mesh(
    axis_sizes: Mapping[str, int] | None = None, devices: Sequence[jax.Device] | None = None
) -> Mesh:
    """A mesh over `devices` (default: all of them) with named axes.

    `axis_sizes` maps axis name to size, in mesh order; one size may be -1 to take the remaining
    devices. The default is a single "data" axis over every device.
    """
    devices = list(jax.devices() if devices is None else devices)
    sizes = dict(axis_sizes or {DATA_AXIS: -1})
    free = [name for name, size in sizes.items() if size == -1]
    if len(free) > 1:
        raise ValueError(f"make_mesh: at most one axis size may be -1, got {sizes}")
    known = math.prod(size for size in sizes.values() if size != -1)
    if free:
        if len(devices) % known:
            raise ValueError(
                f"make_mesh: {len(devices)} devices cannot be split into axes {sizes}"
            )
        sizes[free[0]] = len(devices) // known
    if math.prod(sizes.values()) != len(devices):
        raise ValueError(
            f"make_mesh: axes {sizes} need {math.prod(sizes.values())} devices, have {len(devices)}"
        )
    grid = np.asarray(devices, dtype=object).reshape(tuple(sizes.values()))
    return Mesh(grid, tuple(sizes.keys()))


def batch_sharding(mesh: Mesh, axis: str = DATA_AXIS) -> NamedSharding:
    """Split the leading axis of an array over `axis`; the other axes are replicated."""
    return NamedSharding(mesh, PartitionSpec(axis))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def shard_batch(tree, mesh: Mesh, axis: str = DATA_AXIS):
    """Place every leaf of `tree` with its leading axis split over the mesh's `axis`."""
    size = mesh.shape[axis]

    def place(leaf):
        if leaf.shape[0] % size:
            raise ValueError(
                f"batch of {leaf.shape[0]} cannot be split evenly over {size} devices on axis "
                f"'{axis}'; choose a batch size that is a multiple of {size}"
            )
        return jax.device_put(leaf, batch_sharding(mesh, axis))

    return jax.tree.map(place, tree)
