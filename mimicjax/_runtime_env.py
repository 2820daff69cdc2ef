"""Process-wide settings that must be in place before JAX is first imported.

`mimicjax/__init__.py` calls `configure()`, so importing mimicjax before JAX applies them. Values the
user has set themselves are never overridden.
"""

from __future__ import annotations

import ctypes.util
import glob
import importlib.util
import os
import sys
import warnings

# On CPU, LLVM's most expensive optimisation passes triple the compile time of an MJX step (75 s ->
# 22 s for the G1 at batch 64 on 2 cores) without making the compiled code measurably faster.
CPU_COMPILE_FLAG = "--xla_llvm_disable_expensive_passes=true"


def configure() -> None:
    """Set environment defaults the user has not set themselves. Idempotent."""
    choose_gl_backend()
    if "jax" in sys.modules:
        return  # too late to influence XLA's start-up
    if _cpu_only():
        _append_xla_flag(CPU_COMPILE_FLAG)
    # MJX programs take tens of seconds to compile; keep them across processes (set
    # MIMICJAX_COMPILATION_CACHE=0 to turn this off, or JAX_COMPILATION_CACHE_DIR to move it).
    if os.environ.get("MIMICJAX_COMPILATION_CACHE", "1") != "0":
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(compilation_cache_dir()))
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "2")


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
        warnings.warn(f"mujoco was imported before MUJOCO_GL was set; offscreen rendering may fail (set MUJOCO_GL={backend})",
                      stacklevel=2)
        return None
    os.environ["MUJOCO_GL"] = backend
    if backend == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return backend
