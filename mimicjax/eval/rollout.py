"""Evaluation rollouts: every episode of every clip as one env of a single vmapped, jitted rollout.

    policy = load_policy(run_dir)                       # teacher or student, from the run's checkpoint
    plan = evaluation_plan(load_motions(policy.config), episodes=1, random_starts=16, seed=0)
    env = evaluation_env(policy.config, plan.library)
    record = run_plan(policy, env, plan, seed=0)        # metrics.episodes(record[...]) -> per episode

Each clip is evaluated from its start (`episodes` episodes at time 0, `TrackingEnv.reset_to`) and from
`random_starts` start times drawn uniformly in [0, duration - min(MIN_REMAINING_SECONDS, duration)]
(`random_start_times`: seeded, so the same seed gives the same times; a clip shorter than
`MIN_REMAINING_SECONDS` is started at 0). Every episode runs in the evaluation configuration
(`TrackingConfig.evaluation()`: no randomisation, pushes, delays or sensor noise), and the policy acts
with its mean action, so the physics is deterministic: episodes of the same clip and start differ only
when `noise_scale` perturbs their goals. The rollout lasts as long as the longest remaining time of an
episode (or the episode limit, if shorter); each env's first episode is what counts (see
`metrics.episode_mask`). The from-start episodes come first, in the layout (and with the goal noise and
reset keys) of an evaluation without random starts, so their results do not depend on `random_starts`.

Videos (`render_env`, `render_episodes`) run the from-start episode of a clip again with the tracking
terminations disabled and the episode limit lifted, so that they show the whole clip even when the
policy falls (the divergence guard `termination/nonfinite` stays on).

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
from mimicjax.envs.base import State
from mimicjax.eval import MIN_REMAINING_SECONDS  # random starts leave at least this much of their clip
from mimicjax.rl.unroll import unroll


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
    """The policy of a `mimicjax train` (teacher) or `mimicjax distill` (student) run at `step` (default:
    the newest checkpoint that can be read), or of a policy exported from one with `mimicjax export`.

    `env`: a TrackingEnv for the run's config (built from `library`, or the run's motions, when None);
    only its observation sizes and structure are used.
    """
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.train import distill, runs
    from mimicjax.train.checkpoint import Checkpoints, newest_loadable
    from mimicjax.train.loop import load_motions

    folder = runs.checkpoints_dir(run_dir)
    if not runs.has_checkpoints(run_dir):
        raise ConfigError(f"{run_dir} holds no checkpoint to evaluate (looked in {folder})")
    with Checkpoints(folder, max_to_keep=None, async_save=False) as checkpoints:
        steps = checkpoints.all_steps()
        if step is not None and int(step) not in steps:
            raise ConfigError(f"no checkpoint {step} in {folder}; available: {steps}")

        def load(step: int):
            config = runs.read_run_config(run_dir, step)
            kind = checkpoints.metadata(step).get(runs.POLICY_KEY, runs.TEACHER)
            structure_env = env if env is not None else TrackingEnv(
                config.env, library if library is not None else load_motions(config))
            if kind == runs.STUDENT:
                target = distill.student_checkpoint_target(config, structure_env)
                key, act = runs.STUDENT, student_act
            else:
                target = distill.teacher_checkpoint_target(config, structure_env)
                key, act = "train", teacher_act(config.env.observations.actor)
            if runs.is_policy_only(checkpoints, step):  # exported with `mimicjax export`
                state = runs.restore_policy_only(checkpoints, step, target[key])
            else:  # the policy alone: the rollout and sampler state (shaped by the run's motions) are not read
                state = checkpoints.restore(step, target=target, only=(key,))[key]
            return config, kind, state, act

        if step is None:  # the newest checkpoint that reads, skipping damaged ones with a warning
            step, (config, kind, state, act), _ = newest_loadable(checkpoints, load)
        else:
            step = int(step)
            config, kind, state, act = load(step)
    return Policy(kind=kind, config=config, state=state, act=act, step=step, run_dir=str(run_dir))


# ---- the evaluation library and start times --------------------------------------------------------

_RANDOM_START_STREAM = 1  # numpy seed streams: (seed,) goal noise of the from-start episodes, ...
_RANDOM_NOISE_STREAM = 2  # ... (seed, 1) random start times, (seed, 2) goal noise of the random starts


@dataclasses.dataclass(frozen=True)
class EvaluationPlan:
    """Every evaluated episode, one per env of the rollout. Arrays are [E] over episodes.

    The first `num_clips * episodes` episodes start at time 0 (clip c's e-th is c * episodes + e); then
    come the random starts (clip c's k-th is num_clips * episodes + c * random_starts + k).
    """

    library: Any  # the MotionLibrary the env runs on (the input, or per-episode noisy copies)
    env_clips: np.ndarray  # int32: clip of each episode in `library`
    source_clips: np.ndarray  # int32: clip of each episode in the input library
    start_times: np.ndarray  # float32 seconds
    from_start: np.ndarray  # bool: the episode starts at time 0 of its clip (not a random start)
    episodes: int
    random_starts: int
    min_remaining: float


def random_start_times(library, count: int, seed: int = 0, min_remaining: float = MIN_REMAINING_SECONDS) -> np.ndarray:
    """[num_clips * count] float32 start times, clip c's k-th at c * count + k, uniform in
    [0, duration_c - min(min_remaining, duration_c)]; the same for the same seed."""
    if count < 0:
        raise ConfigError(f"--random-starts must be 0 or more, got {count}")
    if min_remaining < 0 or not math.isfinite(min_remaining):
        raise ConfigError(f"the minimum remaining time of a random start must be >= 0 s, got {min_remaining}")
    durations = np.asarray(library.clip_duration, np.float64)
    latest = np.maximum(durations - np.minimum(min_remaining, durations), 0.0)
    uniform = np.random.default_rng([seed, _RANDOM_START_STREAM]).uniform(size=(len(durations), count))
    return np.minimum(uniform * latest[:, None], latest[:, None]).astype(np.float32).reshape(-1)


def evaluation_plan(
    library,
    episodes: int = 1,
    random_starts: int = 0,
    noise_scale: float = 0.0,
    seed: int = 0,
    min_remaining: float = MIN_REMAINING_SECONDS,
) -> EvaluationPlan:
    """`episodes` from-start episodes and `random_starts` random-start episodes of every clip.

    Without noise the env runs on `library` itself. With `noise_scale` > 0 every episode gets its own copy
    of its clip whose keypoints carry Gaussian noise (the from-start copies exactly as
    `evaluation_library(library, episodes, noise_scale, seed)` makes them).
    """
    if episodes < 1:
        raise ConfigError(f"--episodes must be at least 1, got {episodes}")
    if noise_scale < 0 or not math.isfinite(noise_scale):
        raise ConfigError(f"--noise-scale must be a non-negative number of metres, got {noise_scale}")
    clips = np.arange(library.num_clips, dtype=np.int32)
    times = random_start_times(library, random_starts, seed, min_remaining)
    source = np.concatenate([np.repeat(clips, episodes), np.repeat(clips, random_starts)]).astype(np.int32)
    from_start = np.arange(len(source)) < len(clips) * episodes
    start_times = np.concatenate([np.zeros(len(clips) * episodes, np.float32), times])
    if noise_scale == 0:
        eval_library, env_clips = library, source
    else:
        copies = select_clips(library, source)
        keypoints = np.asarray(copies.keypoint_pos)
        first = int(np.sum(np.asarray(library.clip_length)[source[from_start]]))  # frames of the from-start copies
        noise = np.concatenate([
            np.random.default_rng(seed).normal(0.0, noise_scale, (first,) + keypoints.shape[1:]),
            np.random.default_rng([seed, _RANDOM_NOISE_STREAM]).normal(
                0.0, noise_scale, (len(keypoints) - first,) + keypoints.shape[1:]),
        ])
        eval_library = copies.replace(keypoint_pos=jnp.asarray(keypoints + noise, copies.keypoint_pos.dtype))
        env_clips = np.arange(len(source), dtype=np.int32)
    return EvaluationPlan(eval_library, env_clips, source, start_times, from_start, episodes, random_starts,
                          float(min_remaining))


def evaluation_library(library, episodes: int = 1, noise_scale: float = 0.0, seed: int = 0):
    """(library, clip id per episode) of the from-start episodes. Without noise: the library itself,
    each clip `episodes` times.

    With `noise_scale` > 0: `episodes` copies of every clip, each with its own Gaussian keypoint noise
    (episode e of clip c is clip c * episodes + e of the returned library).
    """
    plan = evaluation_plan(library, episodes, 0, noise_scale, seed)
    return plan.library, plan.env_clips


def repeat_clips(library, times: int):
    """A library with every clip `times` times in a row (clip c, copy k -> clip c * times + k)."""
    return select_clips(library, np.repeat(np.arange(library.num_clips), times))


def select_clips(library, clip_index):
    """A library whose clip i is clip `clip_index[i]` of `library` (clips may repeat).

    A copy's `clip_mirror_of` points at the first copy of its mirror image (-1 when none was selected).
    """
    clip_fields = [f.name for f in dataclasses.fields(library) if f.name.startswith("clip_")]
    clip_index = np.asarray(clip_index, np.int64)
    starts = np.asarray(library.clip_start)
    lengths = np.asarray(library.clip_length)
    frames = np.concatenate([np.arange(starts[c], starts[c] + lengths[c]) for c in clip_index])
    new_lengths = lengths[clip_index]
    new_starts = np.concatenate([[0], np.cumsum(new_lengths)[:-1]]).astype(starts.dtype)
    first_copy = {}
    for i, c in enumerate(clip_index.tolist()):
        first_copy.setdefault(c, i)
    per_frame = {
        f.name: jnp.asarray(np.asarray(getattr(library, f.name))[frames])
        for f in dataclasses.fields(library)
        if f.name not in clip_fields and f.name != "meta"
    }
    per_clip = {name: jnp.asarray(np.asarray(getattr(library, name))[clip_index]) for name in clip_fields}
    per_clip["clip_start"] = jnp.asarray(new_starts, library.clip_start.dtype)
    per_clip["clip_length"] = jnp.asarray(new_lengths, library.clip_length.dtype)
    mirror_of = np.asarray(library.clip_mirror_of)[clip_index]
    per_clip["clip_mirror_of"] = jnp.asarray([first_copy.get(int(m), -1) if m >= 0 else -1 for m in mirror_of],
                                             library.clip_mirror_of.dtype)
    meta = dataclasses.replace(
        library.meta,
        clip_names=tuple(library.meta.clip_names[c] for c in clip_index),
        sources=tuple(library.meta.sources[c] for c in clip_index),
    )
    return library.replace(**per_frame, **per_clip, meta=meta)


def rollout_steps(env, library, clip_ids, start_times=None) -> int:
    """Control steps until every evaluated episode has ended (its clip's end or the episode limit)."""
    durations = np.asarray(library.clip_duration, np.float64)[np.asarray(clip_ids)]
    if start_times is not None:
        durations = durations - np.asarray(start_times, np.float64)
    clip_steps = int(np.max(np.ceil((durations - 1e-4) / env.dt - 1e-6)))
    return max(1, min(clip_steps, env.max_steps))


# ---- the rollout ---------------------------------------------------------------------------------


RECORDED_PREFIXES = ("error/", "termination/")


def eval_record(state: State, action: jax.Array, extras: Any, next_state: State) -> dict:
    """What an evaluation keeps of a step (`unroll`'s `record_fn`): errors and termination causes, the
    end flags, and the pose and clip time the step started from (for videos)."""
    return {
        "metrics": {k: v for k, v in next_state.metrics.items() if k.startswith(RECORDED_PREFIXES)},
        "terminated": next_state.terminated,
        "truncated": next_state.truncated,
        "qpos": state.data.qpos,
        "time": state.info["time"],
    }


def make_eval_rollout(env, act: Callable[[Any, dict], jax.Array], num_steps: int):
    """The jitted `(policy_state, library, clip_ids [E], start_times [E], keys [E]) -> record` of `num_steps`
    deterministic steps. The motion library is an argument, not a constant of the program, so one
    compiled rollout serves every library of the same shapes (e.g. the noise levels of a benchmark).

    record: "metrics" {name: [T, E]} (errors and termination causes), "terminated"/"truncated" [T, E],
    "qpos" [T, E, nq] and "time" [T, E], the state *before* each step (for videos).
    """
    def rollout(policy_state, library, clip_ids, start_times, keys):
        on_library = env.with_library(library)
        state = jax.vmap(on_library.reset_to)(keys, clip_ids, start_times)

        def policy_action(state, _key):  # deterministic: the unroll gets no key
            return act(policy_state, state.obs), None

        return unroll(on_library, state, policy_action, None, num_steps, record_fn=eval_record).records

    return jax.jit(rollout)


def evaluation_env(config: ExperimentConfig, library, sim=None):
    """The tracking env in its evaluation configuration (no randomisation or observation noise)."""
    from mimicjax.envs.tracking import TrackingEnv

    return TrackingEnv(config.env.evaluation(), library, sim=sim)


def episode_keys(seed: int, from_start) -> jax.Array:
    """[E] reset keys: the from-start episodes' keys do not depend on how many random starts follow."""
    from_start = np.asarray(from_start, bool)
    root = jax.random.key(seed)
    keys = jnp.concatenate([jax.random.split(root, int(from_start.sum())),
                            jax.random.split(jax.random.fold_in(root, 1), int((~from_start).sum()))])
    order = np.concatenate([np.flatnonzero(from_start), np.flatnonzero(~from_start)])
    return keys[np.argsort(order)]


def run_episodes(policy: Policy, env, library, clip_ids, seed: int = 0, start_times=None, from_start=None) -> dict:
    """All episodes in one jitted rollout; the record as NumPy arrays (see `make_eval_rollout`).

    `start_times` [E] seconds (default 0); `from_start` [E] bool marks the from-start episodes, for their
    reset keys (default: the episodes that start at 0).
    """
    clip_ids = np.asarray(clip_ids, np.int32)
    start_times = np.zeros(clip_ids.shape, np.float32) if start_times is None else np.asarray(start_times, np.float32)
    if start_times.shape != clip_ids.shape:
        raise ValueError(f"start_times {start_times.shape} must match clip_ids {clip_ids.shape}")
    from_start = start_times == 0 if from_start is None else np.asarray(from_start, bool)
    num_steps = rollout_steps(env, library, clip_ids, start_times)
    rollout = make_eval_rollout(env, policy.act, num_steps)
    record = rollout(policy.state, library, jnp.asarray(clip_ids), jnp.asarray(start_times), episode_keys(seed, from_start))
    return jax.tree.map(np.asarray, jax.device_get(record))


def run_plan(policy: Policy, env, plan: EvaluationPlan, seed: int = 0) -> dict:
    """The rollout of every episode of an `evaluation_plan`."""
    return run_episodes(policy, env, plan.library, plan.env_clips, seed, plan.start_times, plan.from_start)


# ---- whole-clip rollouts for videos ----------------------------------------------------------------

# Terminations that end a failed tracking episode; a video disables them to show the whole clip.
VIDEO_DISABLED_TERMINATIONS = ("max_root_height_error", "max_tilt_error", "max_keypoint_error")


def render_env_config(config: ExperimentConfig, library):
    """The evaluation `TrackingConfig` without tracking terminations (thresholds `inf`) and with an episode
    limit longer than every clip of `library`."""
    env_config = config.env.evaluation()
    terminations = dataclasses.replace(env_config.terminations, **{name: math.inf for name in VIDEO_DISABLED_TERMINATIONS})
    longest = float(np.max(np.asarray(library.clip_duration)))
    return dataclasses.replace(env_config, terminations=terminations,
                               episode_seconds=max(float(env_config.episode_seconds), longest + 1.0))


def render_env(config: ExperimentConfig, library, sim=None):
    """The env of videos (`render_env_config`): an episode runs to its clip's end whatever the policy
    does. Only the physics divergence guard (`max_joint_speed`, non-finite state) can still end it."""
    from mimicjax.envs.tracking import TrackingEnv

    return TrackingEnv(render_env_config(config, library), library, sim=sim)


def render_episodes(policy: Policy, env, library, clip_ids, seed: int = 0) -> dict:
    """From-start episodes of `clip_ids` (of `library`) in `env` (a `render_env`), one jitted rollout.

    Returns the record of `run_episodes` (its "qpos"/"time" are what a video shows).
    """
    clip_ids = np.asarray(clip_ids, np.int32)
    return run_episodes(policy, env, library, clip_ids, seed, np.zeros(clip_ids.shape, np.float32),
                        np.ones(clip_ids.shape, bool))


__all__ = [
    "EvaluationPlan", "MIN_REMAINING_SECONDS", "Policy", "episode_keys", "eval_record", "evaluation_env",
    "evaluation_library", "evaluation_plan", "load_policy", "make_eval_rollout", "random_start_times", "render_env",
    "render_env_config", "render_episodes", "repeat_clips", "rollout_steps", "run_episodes", "run_plan",
    "select_clips", "student_act", "teacher_act",
]
