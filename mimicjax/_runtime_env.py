"""Process-wide settings that must be in place before JAX starts its CPU backend.

`mimicjax/__init__.py` calls `configure()`, so importing mimicjax before the first JAX computation
applies them. Values the user has set themselves are never overridden.

The CPU thread-pool deadlock (jaxlib before 0.11). jaxlib's CPU LAPACK kernels (Cholesky, triangular
solve, LU, QR, eigh, SVD, ...) split a large batch into chunks, queue the chunks on XLA's intra-op
thread pool and then block their own worker until the chunks finish. When XLA runs at least as many
independent LAPACK calls at once as the pool has threads, every worker waits for work queued behind
itself and the process hangs for good. A batched MJX step of the G1 has four batched Cholesky
factorisations, two of them independent, so on a 2-core CPU (a 2-thread pool) `jit(vmap(mjx.step))`
hangs within seconds, often on its first call. A larger pool (PJRT_NPROC=8) only makes the hang rarer.
With a single-thread pool the kernels never split their batch and the hang cannot happen; batched
MJX on a small CPU runs as fast that way, since the batch is already vectorised. jax fixed the kernels
upstream (LAPACK batches are no longer parallelised in open-source builds) after 0.11.0; the guard
stays on until a fixed release has been tested here.
"""

from __future__ import annotations

import ctypes.util
import glob
import importlib.metadata
import importlib.util
import os
import sys
import warnings

# On CPU, LLVM's most expensive optimisation passes triple the compile time of an MJX step (75 s ->
# 22 s for the G1 at batch 64 on 2 cores) without making the compiled code measurably faster.
CPU_COMPILE_FLAG = "--xla_llvm_disable_expensive_passes=true"
# Extra protection against the pool deadlock for users who choose a larger pool themselves: XLA's
# depth-first scheduler keeps independent LAPACK calls from running side by side.
CPU_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
FIRST_FIXED_JAXLIB = (0, 12, 0)  # fixed upstream after 0.11.0; kept until a tested release


def configure() -> None:
    """Set environment defaults the user has not set themselves. Idempotent."""
    choose_gl_backend()
    if _cpu_backend_started():
        warn_if_deadlock_prone()
        return  # too late to influence XLA's start-up
    if _cpu_only():
        _append_xla_flag(CPU_COMPILE_FLAG)
    if _jaxlib_has_lapack_pool_deadlock():
        _append_xla_flag(CPU_SCHEDULER_FLAG)
        if not os.environ.get("PJRT_NPROC") and not os.environ.get("NPROC"):
            os.environ["PJRT_NPROC"] = "1"
    # MJX programs take tens of seconds to compile; keep them across processes (set
    # MIMICJAX_COMPILATION_CACHE=0 to turn this off, or JAX_COMPILATION_CACHE_DIR to move it).
    if os.environ.get("MIMICJAX_COMPILATION_CACHE", "1") != "0":
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(compilation_cache_dir()))
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "2")


def cpu_thread_pool_size() -> int:
    """Threads in XLA's CPU intra-op pool: what XLA reads at start-up (PJRT_NPROC, NPROC, or the cores)."""
    for name in ("PJRT_NPROC", "NPROC"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def warn_if_deadlock_prone() -> None:
    """Warn when JAX's CPU backend already runs with a pool that batched MJX can deadlock."""
    if _jaxlib_has_lapack_pool_deadlock() and cpu_thread_pool_size() > 1:
        warnings.warn(
            f"JAX's CPU backend started with {cpu_thread_pool_size()} threads before mimicjax was imported; "
            "with this jaxlib, batched MJX on the CPU can hang for good. Import mimicjax before running any "
            "JAX computation, or set PJRT_NPROC=1 in the environment.",
            RuntimeWarning,
            stacklevel=3,
        )


def _cpu_backend_started() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # the private check moved: assume the worst
        return True


def _jaxlib_has_lapack_pool_deadlock() -> bool:
    try:
        version = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return False
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    return parts < FIRST_FIXED_JAXLIB


def compilation_cache_dir() -> str:
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "mimicjax", "xla")


def _cpu_only() -> bool:
    platforms = os.environ.get("JAX_PLATFORMS", "").lower()
    if platforms:
        return platforms.split(",")[0].strip() == "cpu"
    accelerator_plugins = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm7_plugin", "libtpu")
    return not any(importlib.util.find_spec(name) for name in accelerator_plugins)


def _append_xla_flag(flag: str) -> None:
    name = flag.split("=")[0]
    current = os.environ.get("XLA_FLAGS", "")
    if name not in current:
        os.environ["XLA_FLAGS"] = f"{current} {flag}".strip()


def choose_gl_backend() -> str | None:
    """Set MUJOCO_GL for offscreen rendering if unset and there is no display; returns the backend in use."""
    if os.environ.get("MUJOCO_GL"):
        return os.environ["MUJOCO_GL"]
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None  # MuJoCo's default (GLFW) can open a window-less context on the display
    has_gpu_node = bool(glob.glob("/dev/dri/renderD*") or os.path.exists("/dev/nvidia0"))
    if has_gpu_node and ctypes.util.find_library("EGL"):
        backend = "egl"
    elif ctypes.util.find_library("OSMesa"):
        backend = "osmesa"
    else:
        return None
    if "mujoco" in sys.modules:
        # Too late to change this process' choice; say so rather than fail obscurely later.
        warnings.warn(
            f"mujoco was imported before MUJOCO_GL was set; offscreen rendering may fail (set MUJOCO_GL={backend})",
            stacklevel=2,
        )
        return None
    os.environ["MUJOCO_GL"] = backend
    if backend == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return backend
