"""Distillation with DAgger: a trained teacher teaches the deployable student (GenMimic's second stage).

    mimicjax distill --teacher-dir runs/teacher --run-dir runs/student [--config X.py] [--set k=v ...]

The student run starts from the teacher's resolved configuration (the env and teacher network must be
the ones the teacher was trained with); `--config` supplies the `name` and `distill` section, and
`--set` overrides any field. Each iteration is one jitted function:

  * the envs step `distill.rollout_steps` times with `mixed_action`: per env, the teacher's mean action
    with probability beta (`beta_schedule`, 1 -> 0) and the student's mean action otherwise;
  * the teacher labels every visited state with its mean action (`ppo.act` without rng) on the
    observation it was trained on (its `env.observations.actor`);
  * the student regresses onto the labels on `obs["student"]` (`dagger_update`).

The Python loop around it is the training loop's: TensorBoard + JSONL scalars ("dagger/..."), Orbax
checkpoints of the full state (student, teacher, rollout, counters) with the resolved config and
`{"policy": "student", "teacher_dir": ...}` in the metadata (so `mimicjax eval` knows the policy is a
student, and `--resume` needs nothing from the teacher's folder), a NaN guard and a progress bar.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from mimicjax import config as config_lib
from mimicjax.config import ConfigError, DistillConfig, ExperimentConfig

from mimicjax.train.runs import (
    POLICY_KEY, STUDENT, TEACHER, TEACHER_DIR_KEY, TEACHER_STEP_KEY, check_run_request, checkpoints_dir,
    has_checkpoints, is_policy_only, read_run_config, restore_policy_only, run_policy,
)


@dataclasses.dataclass
class DistillRun:
    """Everything a distillation run is made of. Python objects hold configuration; states are pytrees."""

    config: ExperimentConfig
    env: Any  # TrackingEnv with the teacher's (training) env configuration
    mesh: Any
    teacher_obs: str  # which observation the teacher acts on ("teacher", or "student")
    iteration_fn: Any
    student_state: Any  # dagger.StudentState
    teacher_state: Any  # ppo.TrainState (fixed)
    rollout_state: Any  # rollout.RolloutState
    teacher_dir: str = ""
    teacher_step: int = -1
    env_steps: int = 0


# ---- configuration ---------------------------------------------------------------------------------


def resolve_config(
    teacher_dir: str | Path,
    experiment: ExperimentConfig | None = None,
    overrides=(),
    motions: str | None = None,
) -> ExperimentConfig:
    """The student's config: the teacher's, with `experiment`'s name and distill section, then overrides."""
    teacher_config = read_run_config(teacher_dir)
    if run_policy(teacher_dir) == STUDENT:
        raise ConfigError(f"{teacher_dir} is a distilled student run; pass the run directory of a PPO teacher")
    config = teacher_config
    if experiment is not None:
        config = dataclasses.replace(config, name=experiment.name, distill=experiment.distill)
    config = config_lib.apply_overrides(config, list(overrides))
    if motions:
        config = dataclasses.replace(config, motions=dataclasses.replace(config.motions, library=str(motions)))
    check_teacher_compatible(config, teacher_config, teacher_dir)
    return config


def check_teacher_compatible(config: ExperimentConfig, teacher_config: ExperimentConfig, teacher_dir) -> None:
    """The teacher's network and observation must be the ones it was trained with."""
    from mimicjax.envs import observations as obs_lib

    if config.network != teacher_config.network:
        raise ConfigError(f"network differs from the teacher's in {teacher_dir}; the teacher's network cannot be "
                          f"changed by --set network.* when distilling")
    normalization = ("normalize_observations", "obs_clip")
    if any(getattr(config.ppo, name) != getattr(teacher_config.ppo, name) for name in normalization):
        raise ConfigError(f"ppo.normalize_observations and ppo.obs_clip define how the teacher in {teacher_dir} "
                          f"sees its observations; keep them as the teacher had them")
    if (config.env.robot, config.env.robot_mjcf) != (teacher_config.env.robot, teacher_config.env.robot_mjcf):
        raise ConfigError(f"env.robot={config.env.robot!r} (model {config.env.robot_mjcf or 'stock'}) but the teacher in "
                          f"{teacher_dir} drives the {teacher_config.env.robot} (model {teacher_config.env.robot_mjcf or 'stock'})")
    if config.env.observations.actor != teacher_config.env.observations.actor:
        raise ConfigError(f"env.observations.actor must stay {teacher_config.env.observations.actor!r}, what the "
                          f"teacher in {teacher_dir} was trained on")
    spec = config.env.load_robot()
    n, k, nb = spec.num_joints, len(spec.keypoint_bodies), len(spec.body_names)

    def layout(env_config):
        obs = env_config.observations
        if obs.actor == STUDENT:
            return obs_lib.student_layout(n, k, obs)
        return obs_lib.privileged_layout(n, k, nb, obs)

    if layout(config.env) != layout(teacher_config.env):
        raise ConfigError(f"the overrides change the {config.env.observations.actor} observation the teacher in "
                          f"{teacher_dir} was trained on; keep env.observations as the teacher had them")


# ---- building ------------------------------------------------------------------------------------


def student_actor(env, network_config):
    """The student's Gaussian actor on obs["student"] (only its mean is used)."""
    from mimicjax.rl import networks as nets

    size = env.observation_size[STUDENT]
    return nets.make_actor_critic({"actor": size, "critic": size}, env.action_size, network_config).actor


def teacher_train_state(config: ExperimentConfig, env, rng):
    """A fresh teacher TrainState shaped like the teacher's (the structure its checkpoint is restored into)."""
    from mimicjax.rl import networks as nets
    from mimicjax.rl import ppo

    networks = nets.make_actor_critic(env.observation_size, env.action_size, config.network)
    return ppo.init_train_state(rng, networks, config.ppo)


def abstract_rollout_state(env, num_envs: int, sharding=None):
    """The RolloutState of `num_envs` envs as shapes only (no compile), for restoring checkpoints."""
    from mimicjax.rl import rollout as rollout_lib

    shapes = jax.eval_shape(lambda rng: rollout_lib.init_rollout_state(env, rng, num_envs), jax.random.key(0))
    return with_sharding(shapes, sharding)


def with_sharding(shapes, sharding=None):
    """`shapes` (from `jax.eval_shape`) placed on `sharding` (default: this process' first device), so that
    a checkpoint saved on another device topology restores here."""
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes)


def teacher_checkpoint_target(config: ExperimentConfig, env) -> dict:
    """The structure of a PPO run's checkpoint (`loop.checkpoint_state`): {"train", "rollout"}."""
    from mimicjax.motion import sampler as sampler_lib

    rollout = abstract_rollout_state(env, config.train.num_envs)
    sampling = config.env.sampler  # the teacher's, which the student's `--set env.sampler.*` may have changed
    sampler = None
    if sampling.enabled and config.env.random_start:
        sampler = with_sharding(jax.eval_shape(lambda: sampler_lib.init_sampler(env.library, sampling)))
    return {
        "train": teacher_train_state(config, env, jax.random.key(0)),
        "rollout": rollout.replace(sampler=sampler),
    }


def student_checkpoint_target(config: ExperimentConfig, env) -> dict:
    """The structure of a distillation checkpoint ({"student", "teacher", "rollout"}), from fresh states."""
    from mimicjax.rl import dagger

    dagger_config = config.distill.dagger
    actor = student_actor(env, config.distill.student_network)
    return {
        STUDENT: jax.jit(dagger.init_student_state, static_argnums=(1, 2, 3))(
            jax.random.key(0), actor, env.observation_size[STUDENT], dagger_config
        ),
        TEACHER: with_sharding(jax.eval_shape(lambda rng: teacher_train_state(config, env, rng), jax.random.key(0))),
        "rollout": abstract_rollout_state(env, config.train.num_envs),
    }


def load_teacher(teacher_dir: str | Path, env, step: int | None = None):
    """(teacher TrainState, its checkpoint step) from a PPO run directory or an exported teacher, at `step`
    (default: the newest checkpoint that can be read); `env` gives the observation sizes."""
    from mimicjax.train.checkpoint import Checkpoints, newest_loadable, read_metadata

    folder = checkpoints_dir(teacher_dir)
    if not has_checkpoints(teacher_dir):
        raise ConfigError(f"{folder} holds no finished checkpoint; train the teacher first")
    if read_metadata(folder, step).get(POLICY_KEY, TEACHER) != TEACHER:
        raise ConfigError(f"{teacher_dir} holds a student, not a teacher; pass a `mimicjax train` run as --teacher-dir")
    with Checkpoints(folder, max_to_keep=None, async_save=False) as checkpoints:
        def load(step: int):
            teacher_config = read_run_config(teacher_dir, step)  # its own num_envs shapes the saved rollout
            if is_policy_only(checkpoints, step):
                return restore_policy_only(checkpoints, step, teacher_train_state(teacher_config, env, jax.random.key(0)))
            return checkpoints.restore(step, target=teacher_checkpoint_target(teacher_config, env), only=("train",))["train"]

        try:
            if step is None:
                step, state, _ = newest_loadable(checkpoints, load)
            else:
                step, state = int(step), load(int(step))
        except (ValueError, KeyError) as error:
            if isinstance(error, ConfigError):
                raise
            raise ConfigError(f"cannot restore the teacher from {folder} ({type(error).__name__}: {error}); is it a "
                              f"`mimicjax train` run of this version?") from error
    return state, step


def check_batch(config: ExperimentConfig, devices: int) -> None:
    num_envs, steps = config.train.num_envs, config.distill.rollout_steps
    if num_envs % devices:
        raise ConfigError(f"train.num_envs={num_envs} must be a multiple of the {devices} devices")
    minibatches = config.distill.dagger.minibatches
    if (num_envs * steps) % minibatches:
        raise ConfigError(
            f"distill.dagger.minibatches={minibatches} must divide train.num_envs x distill.rollout_steps = "
            f"{num_envs * steps} samples"
        )


def build_distill(config: ExperimentConfig, library) -> DistillRun:
    """Env, student, jitted iteration and fresh states; the teacher state is a fresh one of the teacher's
    structure until `load_teacher` or a checkpoint restore replaces it."""
    from mimicjax import distributed
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.rl import dagger
    from mimicjax.rl import rollout as rollout_lib

    mesh = distributed.make_mesh()
    check_batch(config, mesh.shape[distributed.DATA_AXIS])
    env = TrackingEnv(config.env, library)
    # Streams of their own, apart from the teacher's (which used jax.random.key(seed) directly).
    student_rng, env_rng, teacher_rng = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 1), 3)
    actor = student_actor(env, config.distill.student_network)
    student_state = jax.jit(dagger.init_student_state, static_argnums=(1, 2, 3))(
        student_rng, actor, env.observation_size[STUDENT], config.distill.dagger
    )
    teacher_state = teacher_train_state(config, env, teacher_rng)
    replicated = distributed.replicated(mesh)
    rollout_state = rollout_lib.init_rollout_state(env, env_rng, config.train.num_envs)
    teacher_obs = config.env.observations.actor
    return DistillRun(
        config=config,
        env=env,
        mesh=mesh,
        teacher_obs=teacher_obs,
        iteration_fn=make_distill_iteration(env, config.distill.dagger, config.distill.rollout_steps, teacher_obs),
        student_state=jax.device_put(student_state, replicated),
        teacher_state=jax.device_put(teacher_state, replicated),
        rollout_state=rollout_lib.shard_rollout_state(rollout_state, mesh),
    )


# ---- the jitted iteration --------------------------------------------------------------------------


def distill_iteration(student_state, teacher_state, rollout_state, *, env, config, num_steps: int, teacher_obs: str):
    """Rollout with beta-mixed actions, teacher labels, DAgger update. Returns (student, rollout, metrics)."""
    from mimicjax.rl import dagger, ppo
    from mimicjax.rl import rollout as rollout_lib

    rng, rollout_rng = jax.random.split(student_state.rng)
    student_state = student_state.replace(rng=rng)
    beta = dagger.beta_schedule(student_state.iteration, config)

    def mixed_action(env_state, key):
        obs = env_state.obs
        teacher_action = ppo.act(teacher_state, obs[teacher_obs])
        student_action = dagger.student_mean_action(student_state, obs[STUDENT])
        return dagger.mixed_action(key, beta, teacher_action, student_action), (teacher_action, student_action)

    def labelled_sample(env_state, action, actions, next_env_state):
        teacher_action, student_action = actions
        return {
            "sample": {"obs": env_state.obs[STUDENT], "teacher_action": teacher_action},
            "gap": jnp.mean(jnp.square(student_action - teacher_action)),
        }

    rollout_state, records, metrics = rollout_lib.training_unroll(
        env, rollout_state, mixed_action, labelled_sample, rollout_rng, num_steps)
    student_state, update = dagger.dagger_update(student_state, records["sample"], config)
    metrics.update({
        "dagger/loss": update["dagger_loss"],
        "dagger/grad_norm": update["grad_norm"],
        "dagger/beta": beta,
        "dagger/action_gap": jnp.mean(records["gap"]),  # student vs teacher on the visited states, before the update
    })
    return student_state, rollout_state, metrics


def make_distill_iteration(env, config, num_steps: int, teacher_obs: str = TEACHER):
    """The jitted `(student_state, teacher_state, rollout_state) -> (student_state, rollout_state, metrics)`."""
    fn = functools.partial(distill_iteration, env=env, config=config, num_steps=num_steps, teacher_obs=teacher_obs)
    return jax.jit(fn)


# ---- the loop ------------------------------------------------------------------------------------


def checkpoint_state(run: DistillRun) -> dict:
    return {STUDENT: run.student_state, TEACHER: run.teacher_state, "rollout": run.rollout_state}


def checkpoint_metadata(run: DistillRun, iteration: int) -> dict:
    return {
        "env_steps": run.env_steps,
        "iteration": iteration,
        POLICY_KEY: STUDENT,
        TEACHER_DIR_KEY: run.teacher_dir,
        TEACHER_STEP_KEY: run.teacher_step,
    }


def restore_distill(run: DistillRun, checkpoints) -> int:
    """Load the latest checkpoint into `run` (student, teacher and rollout states); returns its iteration."""
    from mimicjax import distributed
    from mimicjax.rl import rollout as rollout_lib

    from mimicjax.train.loop import restore_newest

    step, state, meta = restore_newest(checkpoints, checkpoint_state(run))
    replicated = distributed.replicated(run.mesh)
    run.student_state = jax.device_put(state[STUDENT], replicated)
    run.teacher_state = jax.device_put(state[TEACHER], replicated)
    run.rollout_state = rollout_lib.shard_rollout_state(state["rollout"], run.mesh)
    run.env_steps = int(meta.get("env_steps", 0))
    run.teacher_dir = str(meta.get(TEACHER_DIR_KEY, run.teacher_dir))
    run.teacher_step = int(meta.get(TEACHER_STEP_KEY, run.teacher_step))
    return step


def check_beta_schedule(config: DistillConfig) -> None:
    """DAgger must hand over to the student inside the run: beta reaches 0 before the last iterations."""
    decay = config.dagger.beta_decay_iterations
    if decay > config.iterations:
        raise ConfigError(
            f"distill.dagger.beta_decay_iterations ({decay}) exceeds distill.iterations ({config.iterations}): the "
            f"teacher would still act {config.dagger.initial_beta * (1 - config.iterations / decay):.0%} of the time at the "
            f"end, so the student is never tested on its own states; set beta_decay_iterations <= iterations "
            f"(e.g. --set distill.dagger.beta_decay_iterations={max(1, config.iterations // 2)})"
        )


def distill(
    config: ExperimentConfig,
    run_dir: str | Path,
    teacher_dir: str | Path | None = None,
    resume: bool = False,
    library=None,
    show_progress: bool = True,
    on_iteration=None,
    run: DistillRun | None = None,
) -> DistillRun:
    """Distil up to `config.distill.iterations` in `run_dir`; returns the final `DistillRun`.

    Fresh runs load the teacher from `teacher_dir` (its latest checkpoint). With `resume`, the run
    continues from its newest readable checkpoint (which holds the teacher) with `config`, which may differ
    from the saved config only where `config_lib.RESUME_MAY_CHANGE` allows. `run`: an already built
    `DistillRun` to reuse (its compiled iteration) instead of building one, e.g. to continue a run in the
    same process.
    """
    from mimicjax import distributed
    from mimicjax.train import run_log
    from mimicjax.train.checkpoint import Checkpoints
    from mimicjax.train.loop import load_motions

    run_dir = Path(run_dir)
    check_run_request(run_dir, resume)
    if resume:
        if run_policy(run_dir) != STUDENT:
            raise ConfigError(f"{run_dir} is not a distillation run; resume it with `mimicjax train --resume`")
        config, changes = config_lib.resume_config(read_run_config(run_dir), config, run_dir)
    else:
        changes = []
        if teacher_dir is None:
            raise ConfigError("a new distillation run needs --teacher-dir")
    check_beta_schedule(config.distill)
    if run is None:
        library = library if library is not None else load_motions(config)
        run = build_distill(config, library)
    else:
        run.config = config
    start = 0
    with Checkpoints(checkpoints_dir(run_dir), max_to_keep=config.train.keep_checkpoints) as checkpoints:
        if resume:
            start = restore_distill(run, checkpoints)
        else:
            teacher_state, run.teacher_step = load_teacher(teacher_dir, run.env)
            run.teacher_state = jax.device_put(teacher_state, distributed.replicated(run.mesh))
            run.teacher_dir = str(Path(teacher_dir).absolute())
        with run_log.RunLogger(run_dir, resume_step=start if resume else None) as logger:
            distill_loop(run, config, run_dir, checkpoints, logger, start, changes, show_progress, on_iteration)
        checkpoints.wait()
    return run


def distill_loop(run: DistillRun, config: ExperimentConfig, run_dir: Path, checkpoints, logger, start: int,
                 changes, show_progress: bool, on_iteration) -> None:
    """The iterations from `start` to `config.distill.iterations` in the shared loop (`train.driver`)."""
    from mimicjax.train.driver import Iterations, drive
    from mimicjax.train.loop import report_resume_changes

    logger.write_config(config_lib.to_dict(config))
    if changes:
        report_resume_changes(logger, changes, start)

    def iterate():
        student_state, rollout_state, metrics = run.iteration_fn(run.student_state, run.teacher_state, run.rollout_state)
        return (student_state, rollout_state), metrics

    def keep(states):
        run.student_state, run.rollout_state = states

    def checkpoint(done: int, env_steps: int):
        run.env_steps = env_steps
        return checkpoint_state(run), checkpoint_metadata(run, done)

    iterations = Iterations(
        name="distill",
        total=config.distill.iterations,
        steps_per_iteration=config.train.num_envs * config.distill.rollout_steps,
        iterate=iterate,
        keep=keep,
        check_finite=lambda metrics, iteration, last: check_finite(metrics, iteration, last, run_dir),
        checkpoint=checkpoint,
        postfix=lambda metrics: {"loss": f"{float(metrics['dagger/loss']):.4f}",
                                 "beta": f"{float(metrics['dagger/beta']):.2f}"},
    )
    run.env_steps = drive(iterations, config.train, config_lib.to_dict(config), start, run.env_steps, checkpoints,
                          logger, show_progress, on_iteration)


def check_finite(metrics: dict, iteration: int, last_checkpoint: int | None, run_dir: Path) -> None:
    """Stop (without saving) when the DAgger loss or gradient became non-finite."""
    from mimicjax.train.loop import raise_if_diverged

    raise_if_diverged(
        metrics, ("dagger/loss", "dagger/grad_norm"), f"distillation iteration {iteration + 1}", last_checkpoint,
        checkpoints_dir(run_dir), "Lower distill.dagger.learning_rate or distill.dagger.max_grad_norm.",
    )


def distill_command(args) -> int:
    """`mimicjax distill`: args.teacher_dir, args.config, args.run_dir, args.motions, args.overrides, args.resume."""
    experiment = config_lib.load_experiment(args.config) if args.config else None
    config = resolve_config(args.teacher_dir, experiment, args.overrides, args.motions)
    run = distill(config, args.run_dir, teacher_dir=args.teacher_dir, resume=args.resume)
    print(f"distilled {run.config.name}: {run.env_steps} env steps; the student's logs and checkpoints are in "
          f"{args.run_dir} (evaluate with `mimicjax eval --run-dir {args.run_dir}`)")
    return 0


__all__ = [
    "DistillRun", "build_distill", "distill", "distill_command", "distill_iteration", "load_teacher",
    "make_distill_iteration", "resolve_config", "run_policy", "student_checkpoint_target",
    "teacher_checkpoint_target",
]
