"""The one Python loop around a jitted iteration, shared by PPO training and DAgger distillation.

It times each iteration, stops on non-finite losses before the bad state is kept, counts env steps,
logs scalars every `train.log_every` iterations (and the last), saves a checkpoint every
`train.checkpoint_every` iterations (and the last), shows a progress bar, and stops with a checkpoint
when `train.max_minutes` of wall time have passed (`--resume` continues). What differs between PPO and
DAgger (the iteration, which metrics must stay finite, what a checkpoint holds, what the bar shows) is
an `Iterations` object.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax


@dataclasses.dataclass(frozen=True)
class Iterations:
    """What one kind of run does each iteration."""

    name: str  # the progress bar's label: "train", "distill"
    total: int  # the iteration to reach
    steps_per_iteration: int  # env steps of one iteration
    # () -> (the new states, not yet kept; metrics as device arrays)
    iterate: Callable[[], tuple[Any, dict]]
    keep: Callable[[Any], None]  # make the new states the run's
    # (host metrics, iteration index, newest saved checkpoint or None) -> raise when the run diverged
    check_finite: Callable[[dict, int, int | None], None]
    checkpoint: Callable[[int, int], tuple[Any, dict]]  # (iterations done, env steps) -> (state, metadata)
    postfix: Callable[[dict], dict]  # host metrics -> what the progress bar shows


def drive(iterations: Iterations, train_config, config_dict: dict, start: int, env_steps: int, checkpoints, logger,
          show_progress: bool = True, on_iteration=None) -> int:
    """Run iterations `start`..`iterations.total`; returns the env steps counted at the end.

    `train_config` (a `TrainConfig`) gives the cadences and the time limit; `config_dict` is saved with
    every checkpoint.
    """
    from mimicjax.train import run_log

    todo = range(start, iterations.total)
    bar = run_log.progress(todo, total=len(todo), desc=iterations.name) if show_progress else todo
    loop_started = time.perf_counter()
    for iteration in bar:
        started = time.perf_counter()
        states, metrics = iterations.iterate()
        metrics = jax.device_get(metrics)
        elapsed = time.perf_counter() - started
        iterations.check_finite(metrics, iteration, checkpoints.latest_step())
        iterations.keep(states)
        env_steps += iterations.steps_per_iteration
        metrics["perf/env_steps_per_s"] = iterations.steps_per_iteration / elapsed
        metrics["perf/iteration_s"] = elapsed
        metrics["perf/env_steps"] = env_steps
        if iteration == start:
            metrics["perf/first_iteration_s"] = elapsed  # compile (or cache load) + one iteration
        done = iteration + 1
        out_of_time = 0 < train_config.max_minutes * 60.0 <= time.perf_counter() - loop_started
        last = done == iterations.total or out_of_time
        if done % train_config.log_every == 0 or last:
            logger.scalars(metrics, step=done)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(**iterations.postfix(metrics), sps=f"{metrics['perf/env_steps_per_s']:.0f}")
        if done % train_config.checkpoint_every == 0 or last:
            state, metadata = iterations.checkpoint(done, env_steps)
            checkpoints.save(done, state, config=config_dict, metadata=metadata)
        if on_iteration is not None:
            on_iteration(done, metrics)
        if out_of_time and done != iterations.total:
            print(f"train.max_minutes ({train_config.max_minutes:g}) reached after {done} iterations; "
                  f"--resume continues the run", flush=True)
            break
    return env_steps
