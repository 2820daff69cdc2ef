"""DAgger: distilling the privileged teacher into a student that sees only deployable observations.

Each iteration the envs are stepped with `mixed_action`: per env, the teacher's action with probability
beta and the student's otherwise; beta follows `beta_schedule` from 1 (pure teacher, on-teacher-state
data) down to 0 (pure student, so the student learns to recover from its own mistakes). Every visited
state is labelled with the teacher's action, and `dagger_update` regresses the student's mean action
onto those labels.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mimicjax.rl import networks as nets
from mimicjax.rl import normalization
from mimicjax.rl.normalization import RunningStats
from mimicjax.rl.ppo import ObsNormalization, as_typed_key


@dataclasses.dataclass(frozen=True)
class DAggerConfig:
    beta_decay_iterations: int = 1000  # beta falls linearly from initial_beta to 0 over these iterations
    initial_beta: float = 1.0
    learning_rate: float = 5e-4
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    epochs: int = 5
    minibatches: int = 4
    normalize_observations: bool = True
    obs_clip: float = 5.0

    def __post_init__(self):
        if self.beta_decay_iterations < 1:
            raise ValueError(f"DAggerConfig.beta_decay_iterations must be >= 1, got {self.beta_decay_iterations}")
        if not 0 <= self.initial_beta <= 1:
            raise ValueError(f"DAggerConfig.initial_beta must lie in [0, 1], got {self.initial_beta}")
        for name in ("epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"DAggerConfig.{name} must be >= 1, got {getattr(self, name)}")


@struct.dataclass
class StudentState:
    params: dict  # the student actor's parameters
    opt_state: optax.OptState
    obs_stats: RunningStats
    rng: jax.Array
    iteration: jax.Array  # () int32: DAgger updates done
    actor: nets.GaussianActor = struct.field(pytree_node=False)
    obs_normalization: ObsNormalization = struct.field(pytree_node=False, default=ObsNormalization())


def make_optimizer(config: DAggerConfig) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate, eps=config.adam_eps)
    )


def init_student_state(
    rng: jax.Array, actor: nets.GaussianActor, obs_size: int, config: DAggerConfig
) -> StudentState:
    rng, init_rng = jax.random.split(as_typed_key(rng))
    params = actor.init(init_rng, jnp.zeros((1, obs_size)))["params"]
    return StudentState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        obs_stats=normalization.init_stats(obs_size),
        rng=rng,
        iteration=jnp.zeros((), jnp.int32),
        actor=actor,
        obs_normalization=ObsNormalization(config.normalize_observations, config.obs_clip),
    )


def beta_schedule(iteration, config: DAggerConfig) -> jax.Array:
    """Probability of acting with the teacher at `iteration`: initial_beta -> 0, linearly."""
    progress = jnp.asarray(iteration, jnp.float32) / config.beta_decay_iterations
    return config.initial_beta * jnp.clip(1.0 - progress, 0.0, 1.0)


def mixed_action(
    rng: jax.Array, beta: jax.Array, teacher_action: jax.Array, student_action: jax.Array
) -> jax.Array:
    """Per env (leading axis), the teacher's action with probability beta, else the student's."""
    if teacher_action.shape != student_action.shape:
        raise ValueError(
            f"teacher and student actions differ in shape: {teacher_action.shape} vs {student_action.shape}"
        )
    use_teacher = jax.random.bernoulli(rng, beta, teacher_action.shape[:1])
    use_teacher = use_teacher.reshape(use_teacher.shape + (1,) * (teacher_action.ndim - 1))
    return jnp.where(use_teacher, teacher_action, student_action)


def student_mean_action(student_state: StudentState, obs: jax.Array, params=None) -> jax.Array:
    """The student's deterministic action for raw student observations."""
    params = student_state.params if params is None else params
    if student_state.obs_normalization.enabled:
        obs = normalization.normalize(student_state.obs_stats, obs, clip=student_state.obs_normalization.clip)
    return student_state.actor.apply({"params": params}, obs)[0]


def dagger_loss(student_params, batch: dict, student_state: StudentState) -> jax.Array:
    """Mean squared error of the student's mean action to the teacher's action.

    `batch` has "obs" (raw student observations [B, n]) and "teacher_action" [B, A]; an optional
    "weight" [B] weighs samples (a weighted mean over samples, e.g. to favour hard motions).
    """
    mean = student_mean_action(student_state, batch["obs"], student_params)
    per_sample = jnp.mean(jnp.square(mean - batch["teacher_action"]), axis=-1)
    if "weight" not in batch:
        return jnp.mean(per_sample)
    weight = batch["weight"]
    return jnp.sum(weight * per_sample) / jnp.maximum(jnp.sum(weight), 1e-8)


def dagger_update(
    student_state: StudentState, batch: dict, config: DAggerConfig
) -> tuple[StudentState, dict[str, jax.Array]]:
    """Regress the student onto teacher labels: `epochs` passes of shuffled minibatches.

    `batch` arrays may have any leading axes (e.g. [T, N]); they are flattened into samples. The student's
    observation statistics take in the batch first.
    """
    obs_size = student_state.obs_stats.mean.shape[-1]
    missing = {"obs", "teacher_action"} - set(batch)
    if missing:
        raise ValueError(f"DAgger batch needs {sorted(missing)}, got {sorted(batch)}")
    # Vectors keep their last axis; per-sample weights are flattened entirely.
    samples = {
        name: value.reshape(-1) if name == "weight" else value.reshape((-1, value.shape[-1]))
        for name, value in batch.items()
    }
    if samples["obs"].shape[-1] != obs_size:
        raise ValueError(f"student observations have size {samples['obs'].shape[-1]}, the student expects {obs_size}")
    num_samples = samples["obs"].shape[0]
    if num_samples % config.minibatches:
        raise ValueError(
            f"{num_samples} DAgger samples cannot be split into {config.minibatches} equal minibatches"
        )
    if student_state.obs_normalization.enabled:
        student_state = student_state.replace(
            obs_stats=normalization.update(student_state.obs_stats, samples["obs"])
        )
    optimizer = make_optimizer(config)
    loss_fn = functools.partial(dagger_loss, student_state=student_state)
    minibatch_size = num_samples // config.minibatches

    def minibatch_step(carry, minibatch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, minibatch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), {"dagger_loss": loss, "grad_norm": optax.tree.norm(grads)}

    def epoch(carry, epoch_rng):
        order = jax.random.permutation(epoch_rng, num_samples)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape((config.minibatches, minibatch_size) + x.shape[1:]), samples
        )
        return jax.lax.scan(minibatch_step, carry, minibatches)

    rng, update_rng = jax.random.split(student_state.rng)
    (params, opt_state), metrics = jax.lax.scan(
        epoch, (student_state.params, student_state.opt_state), jax.random.split(update_rng, config.epochs)
    )
    metrics = jax.tree.map(jnp.mean, metrics)
    new_state = student_state.replace(
        params=params, opt_state=opt_state, rng=rng, iteration=student_state.iteration + 1
    )
    return new_state, metrics
