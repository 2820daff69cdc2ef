"""Evaluation rollouts: every episode of every clip as one env of a single vmapped, jitted rollout.

    policy = load_policy(run_dir)                       # teacher or student, from the run's checkpoint
    library = evaluation_library(load_motions(policy.config), episodes=4, noise_scale=0.05)
    record = evaluate_policy(policy, library, episodes=4)

Episodes start at time 0 of their clip (`TrackingEnv.reset_to`), in the evaluation configuration
(`TrackingConfig.evaluation()`: no randomisation, pushes, delays or sensor noise), and the policy acts
with its mean action, so the physics is deterministic: episodes of the same clip differ only when
`noise_scale` perturbs their goals. The rollout lasts as long as the longest clip (or the episode limit,
if shorter); each env's first episode is what counts (see `metrics.episode_mask`).

Goal noise (robustness to goals from generated videos, whose lifted keypoints jitter): each episode
gets its own copy of its clip whose keypoint positions carry i.i.d. Gaussian noise of `noise_scale`
metres per frame and coordinate. The keypoints are what the policy's goal observations are made of;
the tracking errors are still measured against the clean reference motion.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.config import ConfigError, ExperimentConfig


@dataclasses.dataclass
class Policy:
    """A restored policy: `act(state, obs) -> actions` for a batch of observation dicts."""

    kind: str  # "teacher" or "student"
    config: ExperimentConfig
    state: Any  # ppo.TrainState or dagger.StudentState (a pytree, the jitted rollout's argument)
    act: Callable[[Any, dict], jax.Array]
    step: int  # the checkpoint it came from
    run_dir: str = ""


def teacher_act(observation: str):
    """The teacher's deterministic action on observation `observation` (its `env.observations.actor`)."""
    from mimicjax.rl import ppo

    def act(state, obs):
        return ppo.act(state, obs[observation])

    return act


def student_act(state, obs):
    from mimicjax.rl import dagger

    return dagger.student_mean_action(state, obs["student"])


def load_policy(run_dir: str | Path, step: int | None = None, env=None, library=None) -> Policy:
    """The policy of a `mimicjax train` (teacher) or `mimicjax distill` (student) run at `step` (default latest).

    `env`: a TrackingEnv for the run's config (built from `library`, or the run's motions, when None);
    only its observation sizes and structure are used.
    """
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.train import distill
    from mimicjax.train.checkpoint import Checkpoints
    from mimicjax.train.loop import load_motions

    folder = distill.checkpoints_dir(run_dir)
    if not distill.has_checkpoints(run_dir):
        raise ConfigError(f"{run_dir} holds no checkpoint to evaluate (looked in {folder})")
    with Checkpoints(folder, max_to_keep=None, async_save=False) as checkpoints:
        steps = checkpoints.all_steps()
        step = steps[-1] if step is None else int(step)
        if step not in steps:
            raise ConfigError(f"no checkpoint {step} in {folder}; available: {steps}")
        config = distill.read_run_config(run_dir, step)
        kind = checkpoints.metadata(step).get(distill.POLICY_KEY, distill.TEACHER)
        if env is None:
            env = TrackingEnv(config.env, library if library is not None else load_motions(config))
        if kind == distill.STUDENT:
            state = checkpoints.restore(step, target=distill.student_checkpoint_target(config, env))[distill.STUDENT]
            act = student_act
        else:
            state = checkpoints.restore(step, target=distill.teacher_checkpoint_target(config, env))["train"]
            act = teacher_act(config.env.observations.actor)
    return Policy(kind=kind, config=config, state=state, act=act, step=step, run_dir=str(run_dir))


# ---- the evaluation library ------------------------------------------------------------------------


def evaluation_library(library, episodes: int = 1, noise_scale: float = 0.0, seed: int = 0):
    """(library, clip id per episode). Without noise: the library itself, each clip `episodes` times.

    With `noise_scale` > 0: `episodes` copies of every clip, each with its own Gaussian keypoint noise
    (episode e of clip c is clip c * episodes + e of the returned library).
    """
    if episodes < 1:
        raise ConfigError(f"--episodes must be at least 1, got {episodes}")
    if noise_scale < 0 or not math.isfinite(noise_scale):
        raise ConfigError(f"--noise-scale must be a non-negative number of metres, got {noise_scale}")
    clips = library.num_clips
    if noise_scale == 0:
        return library, np.repeat(np.arange(clips, dtype=np.int32), episodes)
    copies = repeat_clips(library, episodes)
    noise = np.random.default_rng(seed).normal(0.0, noise_scale, np.shape(copies.keypoint_pos))
    noisy = copies.replace(keypoint_pos=jnp.asarray(np.asarray(copies.keypoint_pos) + noise, copies.keypoint_pos.dtype))
    return noisy, np.arange(clips * episodes, dtype=np.int32)


def repeat_clips(library, times: int):
    """A library with every clip `times` times in a row (clip c, copy k -> clip c * times + k)."""
    clip_fields = [f.name for f in dataclasses.fields(library) if f.name.startswith("clip_")]
    starts = np.asarray(library.clip_start)
    lengths = np.asarray(library.clip_length)
    frames = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths) for _ in range(times)])
    new_lengths = np.repeat(lengths, times)
    new_starts = np.concatenate([[0], np.cumsum(new_lengths)[:-1]]).astype(starts.dtype)
    clip_index = np.repeat(np.arange(library.num_clips), times)
    per_frame = {
        f.name: jnp.asarray(np.asarray(getattr(library, f.name))[frames])
        for f in dataclasses.fields(library)
        if f.name not in clip_fields and f.name != "meta"
    }
    per_clip = {name: jnp.asarray(np.asarray(getattr(library, name))[clip_index]) for name in clip_fields}
    per_clip["clip_start"] = jnp.asarray(new_starts, library.clip_start.dtype)
    per_clip["clip_length"] = jnp.asarray(new_lengths, library.clip_length.dtype)
    mirror_of = np.asarray(library.clip_mirror_of)[clip_index]
    per_clip["clip_mirror_of"] = jnp.asarray(np.where(mirror_of >= 0, mirror_of * times, -1), library.clip_mirror_of.dtype)
    meta = dataclasses.replace(
        library.meta,
        clip_names=tuple(library.meta.clip_names[c] for c in clip_index),
        sources=tuple(library.meta.sources[c] for c in clip_index),
    )
    return library.replace(**per_frame, **per_clip, meta=meta)


def rollout_steps(env, library, clip_ids) -> int:
    """Control steps until every evaluated episode has ended (its clip's end or the episode limit)."""
    durations = np.asarray(library.clip_duration)[np.asarray(clip_ids)]
    clip_steps = int(np.max(np.ceil((durations - 1e-4) / env.dt - 1e-6)))
    return max(1, min(clip_steps, env.max_steps))


# ---- the rollout ---------------------------------------------------------------------------------


RECORDED_PREFIXES = ("error/", "termination/")


def make_eval_rollout(env, act: Callable[[Any, dict], jax.Array], num_steps: int):
    """The jitted `(policy_state, clip_ids [E], rng) -> record` of `num_steps` deterministic steps.

    record: "metrics" {name: [T, E]} (errors and termination causes), "terminated"/"truncated" [T, E],
    "qpos" [T, E, nq] and "time" [T, E], the state *before* each step (for videos).
    """

    def rollout(policy_state, clip_ids, rng):
        keys = jax.random.split(rng, clip_ids.shape[0])
        state = jax.vmap(env.reset_to)(keys, clip_ids, jnp.zeros(clip_ids.shape, jnp.float32))

        def step(state, _):
            action = act(policy_state, state.obs)
            next_state = jax.vmap(env.step)(state, action)
            record = {
                "metrics": {k: v for k, v in next_state.metrics.items() if k.startswith(RECORDED_PREFIXES)},
                "terminated": next_state.terminated,
                "truncated": next_state.truncated,
                "qpos": state.data.qpos,
                "time": state.info["time"],
            }
            return next_state, record

        _, record = jax.lax.scan(step, state, None, length=num_steps)
        return record

    return jax.jit(rollout)


def evaluation_env(config: ExperimentConfig, library, sim=None):
    """The tracking env in its evaluation configuration (no randomisation or observation noise)."""
    from mimicjax.envs.tracking import TrackingEnv

    return TrackingEnv(config.env.evaluation(), library, sim=sim)


def run_episodes(policy: Policy, env, library, clip_ids, seed: int = 0) -> dict:
    """All episodes in one jitted rollout; the record as NumPy arrays (see `make_eval_rollout`)."""
    clip_ids = np.asarray(clip_ids, np.int32)
    num_steps = rollout_steps(env, library, clip_ids)
    rollout = make_eval_rollout(env, policy.act, num_steps)
    record = rollout(policy.state, jnp.asarray(clip_ids), jax.random.key(seed))
    return jax.tree.map(np.asarray, jax.device_get(record))


__all__ = [
    "Policy", "evaluation_env", "evaluation_library", "load_policy", "make_eval_rollout", "repeat_clips",
    "rollout_steps", "run_episodes", "student_act", "teacher_act",
]
