"""Measurement helpers shared by the benchmarks."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def persistent_compilation_cache(enabled: bool):
    """JAX's persistent compilation cache on or off inside the block (off: every compile is measured)."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cc

    previous = jax.config.jax_enable_compilation_cache
    if previous == enabled:
        yield
        return
    jax.config.update("jax_enable_compilation_cache", enabled)
    cc.reset_cache()  # the cache decides once per process whether it is used; decide again
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", previous)
        cc.reset_cache()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def peak_host_memory_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def device_memory_mb(device) -> dict | None:
    """Device allocator figures in MiB (GPU/TPU); None where the backend has none (CPU)."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if not stats:
        return None
    names = {"peak_bytes_in_use": "peak_mb", "bytes_in_use": "in_use_mb", "bytes_limit": "limit_mb"}
    return {label: stats[key] / 2**20 for key, label in names.items() if key in stats}


def best_seconds(fn, repeats: int) -> float:
    """The fastest of `repeats` timed calls of `fn` (the least disturbed by the rest of the machine)."""
    import time

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
