"""K training runs that differ only in reward weights, PPO coefficients and seeds, trained as one vmapped
program (`mimicjax.rl.variants`), each kept in a run directory of its own.

Every run directory is an ordinary run: the config.json, checkpoints, scalars and TensorBoard logs that
`mimicjax train` writes for that config, so `mimicjax eval`, `plot`, `distill` and `train --resume` take
it like any other run. A variant computes what its own run would, within float tolerance
(`tests/train/test_variants.py`); the K runs share one compile and the device.

What may differ between the variants of one program (`variable_fields()`): `seed`, the PPO coefficients in
`ppo.OVERRIDABLE`, every numeric reward field (term weights such as `env.rewards.keypoint`, term
parameters such as `env.rewards.keypoint_sigma`) and the keypoint weights (`keypoint_group_weights`,
`keypoint_weight_overrides`). Anything else (envs, network sizes, the motions, ...) changes the program;
`check_variants` names it, and `mimicjax sweep` then trains the points one after another.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax import config as config_lib
from mimicjax.config import ConfigError, ExperimentConfig
from mimicjax.train.driver import Iterations, drive

KEYPOINT_WEIGHT_FIELDS = ("env.rewards.keypoint_group_weights", "env.rewards.keypoint_weight_overrides")


class NotVmappable(ConfigError):
    """The configs differ in a field that changes the compiled program."""


def reward_number_fields() -> tuple[str, ...]:
    """The numeric (not boolean) `RewardConfig` fields: every term's weight and numeric parameters."""
    from mimicjax.envs.rewards import RewardConfig

    return tuple(
        f.name for f in dataclasses.fields(RewardConfig)
        if isinstance(f.default, (int, float)) and not isinstance(f.default, bool)
    )


def variable_fields() -> tuple[str, ...]:
    """Dotted config paths that may differ between the variants of one program."""
    from mimicjax.rl import ppo

    return (
        ("seed",)
        + tuple(f"ppo.{name}" for name in ppo.OVERRIDABLE)
        + tuple(f"env.rewards.{name}" for name in reward_number_fields())
        + KEYPOINT_WEIGHT_FIELDS
    )


def differing_fields(configs: list[ExperimentConfig]) -> list[str]:
    """Dotted paths of the fields where any config differs from the first ("name" aside)."""
    flat = [config_lib.flat_fields(c) for c in configs]
    return [path for path in flat[0] if path != "name" and any(f[path] != flat[0][path] for f in flat[1:])]


def check_variants(configs: list[ExperimentConfig]) -> list[str]:
    """The fields that differ between `configs` (each in `variable_fields()`); `NotVmappable` names any other."""
    from mimicjax.rl import ppo

    if not configs:
        raise ConfigError("no variants to train")
    differing = differing_fields(configs)
    allowed = set(variable_fields())
    fixed = [path for path in differing if path not in allowed]
    if fixed:
        raise NotVmappable(
            f"the variants differ in {', '.join(fixed)}, which change the compiled program; one vmapped program "
            f"can vary only seed, {', '.join(f'ppo.{name}' for name in ppo.OVERRIDABLE)}, reward weights and numeric "
            "reward parameters (env.rewards.keypoint, env.rewards.keypoint_sigma, ...) and keypoint weights"
        )
    return differing


def shared_config(configs: list[ExperimentConfig]) -> ExperimentConfig:
    """The config whose structure every variant's iteration follows: the first, with a symmetry loss that
    has a gradient whenever any variant's coefficient is positive (a zero coefficient then multiplies it)."""
    coef = max(c.ppo.symmetry_coef for c in configs)
    first = configs[0]
    return dataclasses.replace(first, ppo=dataclasses.replace(first.ppo, symmetry_coef=coef))


def variant_values(configs: list[ExperimentConfig], robot):
    """`VariantValues` with the variants on the leading axis (configs that passed `check_variants`); it
    holds only the fields that differ, so everything else stays a compile-time constant as in a single run."""
    from mimicjax.envs import rewards as reward_lib
    from mimicjax.rl.variants import VariantValues

    differing = set(differing_fields(configs))
    column = lambda values: jnp.asarray(np.asarray(values, np.float32))  # noqa: E731
    rewards = {
        name: column([getattr(c.env.rewards, name) for c in configs])
        for name in reward_number_fields() if f"env.rewards.{name}" in differing
    }
    keypoint_weights = None
    if differing & set(KEYPOINT_WEIGHT_FIELDS):
        keypoint_weights = column([reward_lib.keypoint_weights(robot, c.env.rewards) for c in configs])
    ppo_values = {
        path.split(".", 1)[1]: column([config_lib.flat_fields(c)[path] for c in configs])
        for path in sorted(differing) if path.startswith("ppo.")
    }
    return VariantValues(rewards=rewards, keypoint_weights=keypoint_weights, ppo=ppo_values)


def stack(trees: list):
    """One pytree with the trees on a new leading axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack(tree, count: int) -> list:
    return [jax.tree.map(lambda leaf, i=i: leaf[i], tree) for i in range(count)]


def place_variants(train_states, rollout_states, mesh):
    """Variants replicated over the mesh, each variant's envs split over its data axis (axis 1)."""
    from jax.sharding import NamedSharding, PartitionSpec

    from mimicjax import distributed

    replicated = distributed.replicated(mesh)
    envs = NamedSharding(mesh, PartitionSpec(None, distributed.DATA_AXIS))
    sampler = rollout_states.sampler
    rollout_states = jax.device_put(rollout_states.replace(sampler=None), envs)
    if sampler is not None:
        sampler = jax.device_put(sampler, replicated)
    return jax.device_put(train_states, replicated), rollout_states.replace(sampler=sampler)


@dataclasses.dataclass
class _Runs:
    """One checkpoint manager and one logger per variant, used by the shared driver as if they were one."""

    checkpoints: list
    loggers: list
    config_dicts: list[dict]

    # -- as the driver's `checkpoints`
    def latest_step(self):
        steps = [c.latest_step() for c in self.checkpoints]
        return None if any(s is None for s in steps) else min(steps)

    def save(self, step, state, config=None, metadata=None):
        del config  # each run saves its own
        for checkpoints, one, config_dict in zip(self.checkpoints, unstack(state, len(self.checkpoints)), self.config_dicts):
            checkpoints.save(step, one, config=config_dict, metadata=metadata)

    def wait(self):
        for checkpoints in self.checkpoints:
            checkpoints.wait()

    # -- as the driver's `logger`
    def scalars(self, metrics, step):
        count = len(self.loggers)
        for i, logger in enumerate(self.loggers):
            one = {name: _row(value, i, count) for name, value in metrics.items()}
            one["perf/variants"] = count
            one["perf/variants_env_steps_per_s"] = count * float(metrics["perf/env_steps_per_s"])
            logger.scalars(one, step)


def _row(value, i: int, count: int):
    array = np.asarray(value)
    return array[i] if array.ndim and array.shape[0] == count else value


@dataclasses.dataclass
class Variants:
    """K variants ready to train: the shared env, the jitted vmapped iteration, the stacked states."""

    configs: list[ExperimentConfig]
    shared: ExperimentConfig  # the structure every variant follows (`shared_config`)
    env: object
    mesh: object
    iteration_fn: object  # (train_states, rollout_states, values) -> (train_states, rollout_states, metrics)
    values: object  # VariantValues
    train_states: object
    rollout_states: object

    @property
    def count(self) -> int:
        return len(self.configs)


def build_variants(configs: list[ExperimentConfig], library) -> Variants:
    """The env, program and fresh states of `configs` (each variant's states drawn from its own seed, as
    its own run's would be), variants replicated over the local devices and envs split over them."""
    from mimicjax import distributed
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.rl import networks as nets
    from mimicjax.rl.symmetry import Symmetry
    from mimicjax.rl.variants import make_variant_iteration
    from mimicjax.train import loop

    configs = list(configs)
    check_variants(configs)
    shared = shared_config(configs)
    mesh = distributed.make_mesh()
    if shared.train.num_envs % mesh.shape[distributed.DATA_AXIS]:
        raise ConfigError(f"train.num_envs={shared.train.num_envs} must be a multiple of the "
                          f"{mesh.shape[distributed.DATA_AXIS]} devices")
    env = TrackingEnv(shared.env, library)
    networks = nets.make_actor_critic(env.observation_size, env.action_size, shared.network)
    fresh = [loop.initial_states(config, env, networks) for config in configs]
    train_states, rollout_states = place_variants(stack([t for t, _ in fresh]), stack([r for _, r in fresh]), mesh)
    iteration_fn = make_variant_iteration(env, shared.ppo, shared.train.rollout_steps, Symmetry.from_env(env))
    return Variants(configs, shared, env, mesh, iteration_fn, variant_values(configs, env.robot), train_states,
                    rollout_states)


def train_variants(
    configs: list[ExperimentConfig],
    run_dirs: list[str | Path],
    resume: bool = False,
    library=None,
    show_progress: bool = True,
    on_iteration=None,
) -> dict:
    """Train `configs[i]` in `run_dirs[i]` for every i as one vmapped program, up to `train.iterations`.

    With `resume`, every run directory must hold a checkpoint at the same iteration; the variants then
    continue from there (with other `train.*` values if asked, e.g. more iterations; to change anything
    else, resume a single run with `mimicjax train --resume`).
    Returns {"iterations", "seconds", "env_steps_per_s"} of this call (env steps of all variants).
    """
    from mimicjax.train import loop, run_log
    from mimicjax.train.checkpoint import Checkpoints, read_config
    from mimicjax.train.runs import check_run_request

    configs, run_dirs = list(configs), [Path(d) for d in run_dirs]
    if len(configs) != len(run_dirs):
        raise ValueError(f"{len(configs)} configs for {len(run_dirs)} run directories")
    if len(set(run_dirs)) != len(run_dirs):
        raise ConfigError("every variant needs a run directory of its own")
    check_variants(configs)
    for run_dir, config in zip(run_dirs, configs):
        check_run_request(run_dir, resume)
        if resume:
            saved = config_lib.saved_experiment(read_config(run_dir / "checkpoints"))
            changed = [path for path, _, _ in config_lib.config_changes(saved, config)
                       if path != "name" and not (path.startswith("train.") and config_lib.may_change_on_resume(path))]
            if changed:
                raise ConfigError(f"{run_dir} was trained with other values of {', '.join(changed)}; a vmapped "
                                  "resume may change only train.* (iterations, time limit, cadences); resume "
                                  "the run alone with `mimicjax train --resume` to change more")
    library = library if library is not None else loop.load_motions(shared_config(configs))
    variants = build_variants(configs, library)
    shared, count = variants.shared, variants.count
    config_dicts = [config_lib.to_dict(config) for config in configs]

    with contextlib.ExitStack() as exits:
        checkpoints = [exits.enter_context(Checkpoints(d / "checkpoints", max_to_keep=shared.train.keep_checkpoints))
                       for d in run_dirs]
        states = {"train": variants.train_states, "rollout": variants.rollout_states}
        start, env_steps = 0, 0
        if resume:
            restored = [loop.restore_newest(manager, template)
                        for manager, template in zip(checkpoints, unstack(states, count))]
            steps = sorted({step for step, _, _ in restored})
            if len(steps) != 1:
                raise ConfigError(
                    "the runs to resume stand at different iterations "
                    f"({', '.join(f'{d.name}: {step}' for d, (step, _, _) in zip(run_dirs, restored))}); "
                    "resume them one by one with `mimicjax train --resume`, or bring them to the same iteration"
                )
            start, env_steps = steps[0], int(restored[0][2].get("env_steps", 0))
            train_states, rollout_states = place_variants(stack([s["train"] for _, s, _ in restored]),
                                                          stack([s["rollout"] for _, s, _ in restored]), variants.mesh)
            states = {"train": train_states, "rollout": rollout_states}

        def iterate():
            train, rollout, metrics = variants.iteration_fn(states["train"], states["rollout"], variants.values)
            return {"train": train, "rollout": rollout}, metrics

        def check_finite(metrics, iteration, last):
            for i, run_dir in enumerate(run_dirs):
                one = {name: _row(value, i, count) for name, value in metrics.items() if name.startswith("ppo/")}
                loop.raise_if_diverged(
                    one, list(one), f"iteration {iteration + 1} of {run_dir.name}", last, run_dir / "checkpoints",
                    "Lower ppo.learning_rate or ppo.max_grad_norm, or check the motions for bad frames.",
                )

        iterations = Iterations(
            name=f"train {count} variants",
            total=shared.train.iterations,
            steps_per_iteration=shared.train.num_envs * shared.train.rollout_steps,  # of each variant's run
            iterate=iterate,
            keep=states.update,
            check_finite=check_finite,
            checkpoint=lambda done, steps: (states, {"env_steps": steps, "iteration": done}),
            postfix=lambda metrics: {"reward": f"{float(np.mean(metrics['reward/mean'])):.3f}"},
        )
        loggers = [exits.enter_context(run_log.RunLogger(d, resume_step=start if resume else None)) for d in run_dirs]
        for logger, config_dict in zip(loggers, config_dicts):
            logger.write_config(config_dict)
        runs = _Runs(checkpoints, loggers, config_dicts)
        started = time.perf_counter()
        end_steps = drive(iterations, shared.train, config_dicts[0], start, env_steps, runs, runs,
                          show_progress, on_iteration)
        seconds = time.perf_counter() - started
        for manager in checkpoints:
            manager.wait()
    done = (end_steps - env_steps) // iterations.steps_per_iteration
    return {"iterations": int(done), "seconds": seconds,
            "env_steps_per_s": count * (end_steps - env_steps) / max(seconds, 1e-9)}
