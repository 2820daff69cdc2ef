"""One tiny teacher run and one tiny student run per test session, shared by the distill and eval tests.

MJX compiles dominate the cost of these tests, so each program (the DAgger iteration, the evaluation
rollout of each policy) is compiled once per session. The teacher run is written in the format of
`mimicjax train` (`loop.build_run` + `loop.checkpoint_state`, the saved config and metadata) at
iteration 0, without a PPO step: what distillation and evaluation read from it is the same, and a PPO
iteration would add one more MJX compile. The smoke experiment is shrunk with `--set`-style overrides.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"

TEACHER_OVERRIDES = (
    "env.episode_seconds=0.3",  # 15 control steps: evaluation rollouts stay short
    "train.num_envs=4",
)
DISTILL_OVERRIDES = (
    "distill.iterations=2",
    "distill.rollout_steps=8",
    "distill.dagger.learning_rate=3e-3",
    "distill.dagger.epochs=4",
    "distill.dagger.minibatches=2",
)


def teacher_config():
    from mimicjax import config as config_lib

    return config_lib.apply_overrides(config_lib.load_experiment(SMOKE), list(TEACHER_OVERRIDES))


@functools.cache
def teacher_run(root: Path) -> Path:
    """A teacher run directory (untrained policy, checkpoint 0) under `root`."""
    from mimicjax import config as config_lib
    from mimicjax.train import loop
    from mimicjax.train.checkpoint import Checkpoints

    run_dir = Path(root) / "teacher"
    config = teacher_config()
    run = loop.build_run(config, loop.load_motions(config))
    with Checkpoints(run_dir / "checkpoints", async_save=False) as checkpoints:
        checkpoints.save(0, loop.checkpoint_state(run), config=config_lib.to_dict(config),
                         metadata={"env_steps": 0, "iteration": 0})
    return run_dir


@dataclasses.dataclass
class StudentRun:
    run_dir: Path
    teacher_dir: Path
    config: object
    run: object  # the DistillRun after distillation (states at its last iteration)
    initial: object  # the DistillRun's states before the first iteration (teacher loaded)


@functools.cache
def student_run(root: Path) -> StudentRun:
    """`mimicjax distill` of `teacher_run(root)` for 2 iterations, into `root/student`."""
    from mimicjax.train import distill
    from mimicjax.train.loop import load_motions

    teacher_dir = teacher_run(root)
    run_dir = Path(root) / "student"
    config = distill.resolve_config(teacher_dir, overrides=DISTILL_OVERRIDES)
    run = distill.build_distill(config, load_motions(config))
    before = dataclasses.replace(run)
    distill.distill(config, run_dir, teacher_dir=teacher_dir, run=run, show_progress=False)
    initial = dataclasses.replace(before, teacher_state=run.teacher_state, teacher_dir=run.teacher_dir,
                                  teacher_step=run.teacher_step)
    return StudentRun(run_dir, teacher_dir, config, run, initial)


def eval_main(argv: list[str]) -> int:
    """`mimicjax eval ARGS` in this process (the command's own parser)."""
    import argparse

    from mimicjax.eval import commands

    parser = argparse.ArgumentParser(prog="mimicjax")
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    return args.func(args)
