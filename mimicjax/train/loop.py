"""The training loop: one jitted PPO iteration, and a thin Python loop around it.

The Python loop logs every iteration (TensorBoard + JSONL), checkpoints the full state with Orbax,
stops on non-finite losses with the last good checkpoint intact, and resumes exactly where a run left
off: `train(config, run_dir)` for 4 iterations gives the same parameters as 2, then `resume=True` to 4.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax import config as config_lib
from mimicjax.config import ConfigError, ExperimentConfig
from mimicjax.envs.tracking import TrackingEnv
from mimicjax.errors import ReportedError
from mimicjax.train.driver import Iterations, drive

SAMPLE_LIBRARY_DIR = Path(__file__).resolve().parents[2] / "data" / "motions"


class TrainingDiverged(ReportedError):
    """Losses or parameters became non-finite; the run stopped without saving the bad state."""


@dataclasses.dataclass
class Run:
    """Everything a training run is made of. Python objects hold configuration; the states are pytrees."""

    config: ExperimentConfig
    env: TrackingEnv
    mesh: Any
    iteration_fn: Any
    train_state: Any
    rollout_state: Any
    env_steps: int = 0


def sample_library_path(robot: str) -> Path:
    """The shipped sample clips retargeted onto the robot named `robot` (the G1s have them)."""
    return SAMPLE_LIBRARY_DIR / f"{robot}_samples.npz"


def load_motions(config: ExperimentConfig, library_path: str | Path | None = None):
    """The MotionLibrary for `config`: an explicit file, the config's file, or the shipped samples."""
    from mimicjax.motion import library as library_lib

    path = Path(library_path or config.motions.library or sample_library_path(config.env.robot))
    if not path.is_file():
        raise ConfigError(
            f"motion library not found: {path}; make one with "
            f"`mimicjax retarget MOTIONS... --robot {config.env.robot} --out LIB.npz` and pass --motions LIB.npz"
        )
    library = library_lib.load_library(path)
    if library.meta.robot != config.env.robot:
        raise ConfigError(
            f"{path} holds {library.meta.robot} motions but the config trains the {config.env.robot}; "
            f"set env.robot={library.meta.robot!r} or retarget the motions with --robot {config.env.robot}"
        )
    if config.motions.mirror:
        library = library_lib.with_mirrored_clips(library)
    return library


def build_run(config: ExperimentConfig, library) -> Run:
    """Env, networks, jitted iteration and fresh states, with envs sharded over all local devices."""
    from mimicjax import distributed
    from mimicjax.rl import networks as nets
    from mimicjax.rl import rollout as rollout_lib
    from mimicjax.rl.symmetry import Symmetry

    mesh = distributed.make_mesh()
    devices = mesh.shape[distributed.DATA_AXIS]
    if config.train.num_envs % devices:
        raise ConfigError(
            f"train.num_envs={config.train.num_envs} must be a multiple of the {devices} devices"
        )
    env = TrackingEnv(config.env, library)
    networks = nets.make_actor_critic(env.observation_size, env.action_size, config.network)
    symmetry = Symmetry.from_env(env)
    train_state, rollout_state = initial_states(config, env, networks)
    train_state = jax.device_put(train_state, distributed.replicated(mesh))
    rollout_state = rollout_lib.shard_rollout_state(rollout_state, mesh)
    iteration_fn = rollout_lib.make_ppo_iteration(env, config.ppo, config.train.rollout_steps, symmetry)
    return Run(config, env, mesh, iteration_fn, train_state, rollout_state)


def initial_states(config: ExperimentConfig, env: TrackingEnv, networks):
    """(train state, rollout state) of a fresh run of `config`: both drawn from `config.seed`."""
    from mimicjax.rl import ppo
    from mimicjax.rl import rollout as rollout_lib

    init_rng, env_rng = jax.random.split(jax.random.key(config.seed))
    train_state = ppo.init_train_state(init_rng, networks, config.ppo)
    return train_state, rollout_lib.init_rollout_state(env, env_rng, config.train.num_envs)


def checkpoint_state(run: Run) -> dict:
    return {"train": run.train_state, "rollout": run.rollout_state}


def restore_run(run: Run, checkpoints) -> int:
    """Load the latest checkpoint into `run`; returns its iteration."""
    from mimicjax import distributed
    from mimicjax.rl import rollout as rollout_lib

    step, state, metadata = restore_newest(checkpoints, checkpoint_state(run))
    run.train_state = jax.device_put(state["train"], distributed.replicated(run.mesh))
    run.rollout_state = rollout_lib.shard_rollout_state(state["rollout"], run.mesh)
    run.env_steps = int(metadata.get("env_steps", 0))
    return step


def restore_newest(checkpoints, target) -> tuple[int, Any, dict]:
    """(step, state, metadata) of the newest checkpoint that restores into `target`. Damaged newer ones
    are set aside as `<step>.damaged` (kept, but no longer listed), so the resumed run can save again."""
    from mimicjax.train.checkpoint import newest_loadable, set_aside

    step, (state, metadata), damaged = newest_loadable(
        checkpoints, lambda s: (checkpoints.restore(s, target=target), checkpoints.metadata(s)))
    for path in set_aside(checkpoints, damaged):
        print(f"resuming from checkpoint {step}; the damaged one is kept as {path}", flush=True)
    return step, state, metadata


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    resume: bool = False,
    library=None,
    show_progress: bool = True,
    on_iteration=None,
) -> Run:
    """Train `config` in `run_dir` up to `config.train.iterations`; returns the final `Run`.

    With `resume`, continue from the latest checkpoint in `run_dir` with `config`, which may differ from the
    run's saved config only where `config_lib.RESUME_MAY_CHANGE` allows (else a ConfigError names the
    fields); the changes are printed and logged. An empty `config.motions.library` means the run's own.
    """
    from mimicjax.train import run_log
    from mimicjax.train.checkpoint import Checkpoints, read_config

    run_dir = Path(run_dir)
    checkpoints_dir = run_dir / "checkpoints"
    from mimicjax.train.runs import check_run_request

    check_run_request(run_dir, resume)
    changes = []
    if resume:
        saved = config_lib.saved_experiment(read_config(checkpoints_dir))
        if not config.motions.library:  # no --motions (and none in the experiment): the run's own
            config = dataclasses.replace(config, motions=saved.motions)
        config, changes = config_lib.resume_config(saved, config, run_dir)
    library = library if library is not None else load_motions(config)
    run = build_run(config, library)
    start = 0
    with Checkpoints(checkpoints_dir, max_to_keep=config.train.keep_checkpoints) as checkpoints:
        if resume:
            start = restore_run(run, checkpoints)
            if any(path == "ppo.learning_rate" for path, _, _ in changes):
                # The rate lives in the train state (the KL-adaptive rule moves it): a requested one restarts it.
                rate = jax.device_put(jnp.asarray(config.ppo.learning_rate, jnp.float32), run.train_state.learning_rate.sharding)
                run.train_state = run.train_state.replace(learning_rate=rate)
        with run_log.RunLogger(run_dir, resume_step=start if resume else None) as logger:
            logger.write_config(config_lib.to_dict(config))
            if changes:
                report_resume_changes(logger, changes, start)
            run.env_steps = drive(ppo_iterations(run, run_dir), config.train, config_lib.to_dict(config), start,
                                  run.env_steps, checkpoints, logger, show_progress, on_iteration)
        checkpoints.wait()
    return run


def ppo_iterations(run: Run, run_dir: Path) -> Iterations:
    """The PPO run's part of the shared loop."""

    def keep(states):
        run.train_state, run.rollout_state = states

    def iterate():
        train_state, rollout_state, metrics = run.iteration_fn(run.train_state, run.rollout_state)
        return (train_state, rollout_state), metrics

    return Iterations(
        name="train",
        total=run.config.train.iterations,
        steps_per_iteration=run.config.train.num_envs * run.config.train.rollout_steps,
        iterate=iterate,
        keep=keep,
        check_finite=lambda metrics, iteration, last: _check_finite(metrics, iteration, last, run_dir),
        checkpoint=lambda done, env_steps: (checkpoint_state(run), {"env_steps": env_steps, "iteration": done}),
        postfix=lambda metrics: {"reward": f"{float(metrics['reward/mean']):.3f}"},
    )


def report_resume_changes(logger, changes, iteration: int) -> None:
    """Say which config changes a resumed run applies from `iteration` on (printed, and in TensorBoard)."""
    text = config_lib.describe_changes(changes)
    print(f"resuming at iteration {iteration} with: {text}", flush=True)
    logger.text("config/resume_changes", f"from iteration {iteration}: {text}", step=iteration)


def _check_finite(metrics: dict, iteration: int, last_checkpoint: int | None, run_dir: Path) -> None:
    raise_if_diverged(
        metrics, [name for name in metrics if name.startswith("ppo/")], f"iteration {iteration + 1}",
        last_checkpoint, run_dir / "checkpoints",
        "Lower ppo.learning_rate or ppo.max_grad_norm, or check the motions for bad frames.",
    )


def raise_if_diverged(
    metrics: dict, names, where: str, last_checkpoint: int | None, checkpoints_dir: Path, advice: str
) -> None:
    """Stop a run, without saving, when any of the metrics `names` is non-finite."""
    bad = sorted(name for name in names if name in metrics and not math.isfinite(float(np.asarray(metrics[name]))))
    if bad:
        last_good = f"checkpoint {last_checkpoint}" if last_checkpoint is not None else "no checkpoint yet"
        raise TrainingDiverged(
            f"non-finite {', '.join(bad)} at {where}; the run stopped without saving this state "
            f"(last good: {last_good} in {checkpoints_dir}). {advice}"
        )
