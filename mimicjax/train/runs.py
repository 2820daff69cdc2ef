"""Run directories: where their checkpoints are, whether they hold one, what kind of policy, which config.

A run directory (`mimicjax train` / `distill` `--run-dir`, or an exported policy from `mimicjax export`)
holds `checkpoints/<step>/` (Orbax) with the resolved config and metadata in every checkpoint. Every
command asks these questions here, the same way.
"""

from __future__ import annotations

from pathlib import Path

from mimicjax import config as config_lib
from mimicjax.config import ConfigError, ExperimentConfig

STUDENT = "student"
TEACHER = "teacher"
POLICY_KEY = "policy"  # checkpoint metadata: "student" for distilled runs (teacher runs have none)
# Checkpoint metadata of an exported policy (`mimicjax export`): its state is only `policy_only(state)`.
POLICY_ONLY_KEY = "policy_only"
TEACHER_DIR_KEY = "teacher_dir"
TEACHER_STEP_KEY = "teacher_step"


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def has_checkpoints(run_dir: str | Path) -> bool:
    folder = checkpoints_dir(run_dir)
    return folder.is_dir() and any(p.name.isdigit() for p in folder.iterdir())


def check_run_request(run_dir: str | Path, resume: bool) -> None:
    """A new run needs an empty `run_dir`, `--resume` one with a checkpoint; a ConfigError says which is wrong."""
    existing = has_checkpoints(run_dir)
    if existing and not resume:
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it, or choose a new --run-dir")
    if resume and not existing:
        raise ConfigError(f"nothing to resume: {checkpoints_dir(run_dir)} has no checkpoint")


def read_run_config(run_dir: str | Path, step: int | None = None) -> ExperimentConfig:
    """The resolved ExperimentConfig saved in the checkpoints of `run_dir`."""
    from mimicjax.train.checkpoint import read_config

    if not has_checkpoints(run_dir):
        raise ConfigError(f"{run_dir} holds no checkpoint; train it first (`mimicjax train --run-dir {run_dir}`)")
    try:
        return config_lib.saved_experiment(read_config(checkpoints_dir(run_dir), step))
    except ConfigError as error:
        raise ConfigError(f"the config saved in {checkpoints_dir(run_dir)} does not match this version: {error}") from error


def run_policy(run_dir: str | Path, step: int | None = None) -> str:
    """"student" for a distilled run, "teacher" for a PPO run (by the checkpoint's metadata)."""
    from mimicjax.train.checkpoint import read_metadata

    return read_metadata(checkpoints_dir(run_dir), step).get(POLICY_KEY, TEACHER)


def policy_only(state) -> dict:
    """What a policy needs to act: its parameters and observation normaliser (no optimiser, no rollout)."""
    return {"params": state.params, "obs_stats": state.obs_stats}


def is_policy_only(checkpoints, step: int) -> bool:
    return bool(checkpoints.metadata(step).get(POLICY_ONLY_KEY, False))


def restore_policy_only(checkpoints, step: int, fresh_state):
    """`fresh_state` (a TrainState or StudentState) with the parameters and normaliser of the exported
    policy at `step`; its optimiser state stays fresh (an exported policy acts, it does not resume)."""
    restored = checkpoints.restore(step, target={"policy": policy_only(fresh_state)})["policy"]
    return fresh_state.replace(params=restored["params"], obs_stats=restored["obs_stats"])
