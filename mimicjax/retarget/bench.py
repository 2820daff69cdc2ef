"""`mimicjax bench retarget`: frames per second of the batched retargeting, compile time apart.

The demo's three sample clips (walk, wave, squat in data/motions) are repeated until the batch holds about `--frames` frames, then
retargeted together: once to compile (timed on its own), then `--repeats` more times.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mimicjax import robots

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "motions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    robots.add_robot_argument(parser, help="the robot to retarget onto")
    parser.add_argument("--frames", type=int, default=2000, help="approximate frames per batch (default 2000)")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default: the retargeting default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the compile run (default 3)")


def run(args: argparse.Namespace) -> dict:
    import os
    import resource
    import time

    import jax

    from mimicjax.human import load_human_motion
    from mimicjax.retarget.pipeline import RetargetConfig, retarget_motions

    robot = robots.get(args.robot)
    config = RetargetConfig() if args.steps is None else RetargetConfig(steps=args.steps)
    from mimicjax.demo import SAMPLE_MOTIONS

    for name in ("frames", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1, got {getattr(args, name)}")
    # The human clips by name: data/motions also holds the retargeted G1 libraries.
    samples = [load_human_motion(SAMPLE_DIR / f"{name}.npz") for name in SAMPLE_MOTIONS if (SAMPLE_DIR / f"{name}.npz").is_file()]
    if not samples:
        raise FileNotFoundError(f"no sample motions in {SAMPLE_DIR}")
    motions = []
    while sum(m.num_frames for m in motions) < args.frames:
        motions.append(samples[len(motions) % len(samples)])
    frames = sum(m.num_frames for m in motions)

    start = time.perf_counter()
    retarget_motions(motions, robot, config=config)
    first = time.perf_counter() - start
    times, cpu_times = [], []
    for _ in range(max(1, args.repeats)):
        start, cpu_start = time.perf_counter(), time.process_time()
        results = retarget_motions(motions, robot, config=config)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    best = min(times)
    return {
        "benchmark": "retarget",
        "robot": args.robot,
        "backend": jax.default_backend(),
        "devices": jax.device_count(),
        "clips": len(motions),
        "frames": frames,
        "adam_steps": config.steps,
        "seconds_per_batch": best,
        "frames_per_second": frames / best,
        # Wall time depends on what else the machine runs; CPU time of this process says what the work costs.
        "cpu_seconds_per_batch": min(cpu_times),
        "frames_per_cpu_second": frames / min(cpu_times),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "compile_seconds": max(0.0, first - best),
        "first_call_seconds": first,
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "keypoint_error_mean_m": float(sum(r.report["keypoint_error_mean_m"] for r in results) / len(results)),
        "joint_limit_violations": int(sum(r.report["joint_limit_violations"] for r in results)),
    }
