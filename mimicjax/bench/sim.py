"""`mimicjax bench sim`: Robot physics throughput in MJX against MuJoCo's C engine, in the same run.

Both sides simulate the same model from the same stand pose under the same PD targets. A "step" is one
physics step of one robot (200 Hz by default); env steps at the control rate are steps / substeps.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from mimicjax import robots
from mimicjax.bench.common import device_memory_mb, load_average, peak_host_memory_mb, persistent_compilation_cache

SWEEP_BATCHES = (1, 64, 512, 4096)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=64, help="number of parallel robots (default 64)")
    parser.add_argument(
        "--steps", type=int, default=200, help="control steps to time per batch (default 200 = 4 s of sim)"
    )
    robots.add_robot_argument(parser)
    parser.add_argument("--impl", default="auto", choices=("auto", "jax", "warp", "c"), help="physics backend (c: MuJoCo's C engine called from JAX, CPU)")
    parser.add_argument(
        "--sweep", nargs="?", const=",".join(map(str, SWEEP_BATCHES)), default=None, metavar="B,B,...",
        help=f"measure several batches instead (default {','.join(map(str, SWEEP_BATCHES))})",
    )
    parser.add_argument(
        "--chunk", type=int, default=25, help="control steps per jitted call (default 25 = 0.5 s of sim)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the MuJoCo C measurement")
    parser.add_argument(
        "--compile-cache", action="store_true",
        help="let JAX load the program from its persistent compilation cache (compile_s then measures loading)",
    )


def sweep_batches(text: str) -> tuple[int, ...]:
    try:
        batches = tuple(int(b) for b in text.split(","))
    except ValueError:
        raise ValueError(f"--sweep takes comma-separated batch sizes such as 1,64,512, got {text!r}") from None
    if not batches or min(batches) < 1:
        raise ValueError(f"--sweep batch sizes must be positive, got {text!r}")
    return batches


def run(args: argparse.Namespace) -> dict:
    import jax
    import mujoco

    from mimicjax.envs import sim as sim_lib

    if args.batch < 1 or args.steps < 1 or args.chunk < 1:
        raise ValueError("--batch, --steps and --chunk must be positive")
    batches = sweep_batches(args.sweep) if args.sweep is not None else (args.batch,)
    config = sim_lib.SimConfig(impl=args.impl)
    sim, mj_model = sim_lib.make_sim(robots.get(args.robot), config)
    results = []
    for batch in batches:
        with persistent_compilation_cache(args.compile_cache):
            result = {"batch": batch, **measure_mjx(sim, batch, args.steps, args.chunk)}
        if not args.no_baseline:
            result.update(measure_mujoco_c(mj_model, batch, args.steps * sim.substeps))
            result["mjx_over_mujoco_c"] = result["mjx_steps_per_s"] / result["mujoco_c_steps_per_s"]
        results.append(result)
    report = {
        "benchmark": "sim",
        "robot": args.robot,
        "impl": sim.impl,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "physics_dt": sim_lib.physics_dt(sim),
        "substeps_per_control_step": sim.substeps,
        "versions": {
            "jax": jax.__version__,
            "mujoco": mujoco.__version__,
            "python": platform.python_version(),
        },
        "peak_host_memory_mb": peak_host_memory_mb(),
        "load_average": load_average(),
        "compile_cache": bool(args.compile_cache),
    }
    if args.sweep is not None:
        report["sweep"] = results
    # Top-level keys report the largest batch, the figure that matters at scale.
    report.update(results[-1])
    return report


def measure_mjx(sim, batch: int, control_steps: int, chunk: int) -> dict:
    """Compile time and steady-state throughput of `chunk` control steps per jitted call."""
    import jax
    import jax.numpy as jnp

    from mimicjax.envs import sim as sim_lib

    chunk = min(chunk, control_steps)
    data = sim_lib.reset(sim, jax.random.key(0), batch, joint_noise=0.05)
    targets = jnp.broadcast_to(sim.default_ctrl, (batch,) + sim.default_ctrl.shape)
    start = time.perf_counter()
    compiled = jax.jit(sim_lib.hold, static_argnums=3).lower(sim, data, targets, chunk).compile()
    compile_s = time.perf_counter() - start

    data = jax.block_until_ready(compiled(sim, data, targets))  # warm-up call
    calls = max(1, control_steps // chunk)
    start = time.perf_counter()
    for _ in range(calls):
        data = compiled(sim, data, targets)
    data = jax.block_until_ready(data)
    elapsed = time.perf_counter() - start
    physics_steps = batch * calls * chunk * sim.substeps
    return {
        "compile_s": compile_s,
        "mjx_seconds": elapsed,
        "mjx_steps_per_s": physics_steps / elapsed,
        "mjx_env_steps_per_s": physics_steps / sim.substeps / elapsed,
        "mjx_finite": not bool(sim_lib.has_nan(data)),
        "device_memory": device_memory_mb(jax.devices()[0]),
    }


def measure_mujoco_c(mj_model, batch: int, physics_steps: int) -> dict:
    """The same rollout in MuJoCo's C engine, one thread per core (`mujoco.rollout`)."""
    import mujoco
    import numpy as np
    from mujoco import rollout

    threads = os.cpu_count() or 1
    datas = [mujoco.MjData(mj_model) for _ in range(threads)]
    mujoco.mj_resetDataKeyframe(mj_model, datas[0], mj_model.key("stand").id)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.empty(mujoco.mj_stateSize(mj_model, spec))
    mujoco.mj_getState(mj_model, datas[0], state, spec)
    initial = np.tile(state, (batch, 1))
    control = np.tile(mj_model.key("stand").ctrl, (batch, physics_steps, 1))
    rollout.rollout(mj_model, datas, initial[:, :], control[:, :1], nstep=1)  # start the thread pool
    start = time.perf_counter()
    rollout.rollout(mj_model, datas, initial, control, nstep=physics_steps)
    elapsed = time.perf_counter() - start
    return {
        "mujoco_c_steps_per_s": batch * physics_steps / elapsed,
        "mujoco_c_seconds": elapsed,
        "mujoco_c_threads": threads,
    }
