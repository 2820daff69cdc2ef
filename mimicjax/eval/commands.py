"""`mimicjax eval`: success rate and keypoint errors of a teacher or student run, per clip; videos.

    mimicjax eval --run-dir runs/student [--checkpoint N] [--episodes K] [--noise-scale 0.05]
                  [--json OUT.json] [--video OUT.mp4] [--motions LIB.npz]

Prints a table, writes the results as JSON (default `RUN_DIR/eval/checkpoint_<N>[_noise_<S>].json`),
and logs them to the run's TensorBoard under "eval/..." (or "eval/noise_<S>/...") at the checkpoint's
iteration.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a teacher or student run: success rate, keypoint errors, videos",
        description="Run every clip of the motion library from its start with the run's policy (mean "
        "actions, no randomisation or sensor noise) and report the success rate (episodes that reach "
        "the end of their clip without a termination) and keypoint errors, overall, per keypoint group "
        "and per clip.",
    )
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="a `mimicjax train` or `mimicjax distill` run")
    parser.add_argument("--checkpoint", type=int, default=None, metavar="N", help="checkpoint step (default: latest)")
    parser.add_argument("--episodes", type=int, default=1, metavar="K",
                        help="episodes per clip (default 1; they differ only under --noise-scale)")
    parser.add_argument("--motions", default=None, metavar="LIB.npz", help="motion library (default: the run's)")
    parser.add_argument("--noise-scale", type=float, default=0.0, metavar="S",
                        help="Gaussian jitter (m) on the goal keypoints, as in motions from generated videos")
    parser.add_argument("--seed", type=int, default=0, help="seed of the goal noise")
    parser.add_argument("--json", default=None, metavar="OUT.json", help="where to write the results")
    parser.add_argument("--video", default=None, metavar="OUT.mp4", help="render one episode with its goal keypoints")
    parser.add_argument("--video-clip", type=int, default=0, metavar="I", help="clip of the rendered episode (default 0)")
    parser.add_argument("--video-width", type=int, default=640, metavar="W")
    parser.add_argument("--video-height", type=int, default=480, metavar="H")
    parser.add_argument("--no-log", action="store_true", help="do not add the results to the run's TensorBoard")
    parser.set_defaults(func=eval_command)


def default_json_path(run_dir: str | Path, step: int, noise_scale: float) -> Path:
    suffix = f"_noise_{noise_scale:g}" if noise_scale > 0 else ""
    return Path(run_dir) / "eval" / f"checkpoint_{step}{suffix}.json"


def scalar_prefix(noise_scale: float) -> str:
    return f"eval/noise_{noise_scale:g}" if noise_scale > 0 else "eval"


def evaluate(
    run_dir: str | Path,
    checkpoint: int | None = None,
    episodes: int = 1,
    motions: str | Path | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    json_path: str | Path | None = None,
    video: str | Path | None = None,
    video_clip: int = 0,
    video_size: tuple[int, int] = (640, 480),
    log: bool = True,
) -> dict:
    """Evaluate the run's policy; returns the results (also written as JSON, and logged when `log`)."""
    import numpy as np

    from mimicjax.config import ConfigError
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.eval import metrics
    from mimicjax.eval import rollout as rollout_lib
    from mimicjax.io_utils import atomic_write_text
    from mimicjax.train import distill
    from mimicjax.train.checkpoint import dumps
    from mimicjax.train.loop import load_motions

    if not distill.has_checkpoints(run_dir):
        raise ConfigError(f"{run_dir} holds no checkpoint to evaluate; train it with `mimicjax train` or "
                          f"`mimicjax distill` first")
    config = distill.read_run_config(run_dir, checkpoint)
    library = load_motions(config, motions)
    if video is not None and not 0 <= video_clip < library.num_clips:
        raise ConfigError(f"--video-clip {video_clip} does not exist: the library has clips 0..{library.num_clips - 1}")
    eval_library, env_clips = rollout_lib.evaluation_library(library, episodes, noise_scale, seed)
    env = rollout_lib.evaluation_env(config, eval_library)
    structure_env = TrackingEnv(config.env, eval_library, sim=env.sim)
    policy = rollout_lib.load_policy(run_dir, checkpoint, env=structure_env)
    record = rollout_lib.run_episodes(policy, env, eval_library, env_clips, seed)

    per_episode = metrics.episodes(record["metrics"], record["terminated"], record["truncated"], env.dt)
    source_clips = np.repeat(np.arange(library.num_clips), episodes)
    result = {
        "run_dir": str(run_dir),
        "policy": policy.kind,
        "checkpoint": policy.step,
        "episodes_per_clip": episodes,
        "noise_scale": noise_scale,
        "seed": seed,
        "motions": str(motions or config.motions.library or "samples"),
        "control_dt": env.dt,
        "rollout_steps": int(record["terminated"].shape[0]),
        **metrics.report(per_episode, source_clips, library.meta.clip_names),
    }
    out = Path(json_path) if json_path else default_json_path(run_dir, policy.step, noise_scale)
    result["json"] = str(out)
    if video is not None:
        result["video"] = _render_video(video, record, eval_library, env_clips, env, config, video_clip * episodes, video_size)
    atomic_write_text(out, dumps(result) + "\n")
    if log:
        from mimicjax.train.logging import RunLogger

        with RunLogger(run_dir) as logger:
            logger.scalars(metrics.scalars(result, scalar_prefix(noise_scale)), step=policy.step)
    return result


def _render_video(out, record, library, env_clips, env, config, episode: int, size) -> str | None:
    """Render env `episode`'s episode to `out`; None (with a message) when no OpenGL backend works."""
    import sys

    from mimicjax.eval import render

    reason = render.gl_unavailable(config.env.variant)
    if reason is not None:
        print(f"mimicjax eval: skipping the video: no offscreen OpenGL backend works here ({reason}). "
              f"Install OSMesa (libosmesa6) or EGL, or set MUJOCO_GL=osmesa|egl.", file=sys.stderr)
        return None
    qpos, times = render.episode_frames(record, episode)
    keypoints = render.goal_keypoints(library, int(env_clips[episode]), times)
    width, height = size
    render.write_episode_video(out, config.env.variant, qpos, keypoints, fps=1.0 / env.dt, width=width, height=height,
                               progress=sys.stderr.isatty())
    return str(out)


def eval_command(args: argparse.Namespace) -> int:
    if args.video:
        from mimicjax.motion.render import choose_gl_backend

        choose_gl_backend()  # before anything imports mujoco
    from mimicjax.eval import metrics

    result = evaluate(
        args.run_dir,
        checkpoint=args.checkpoint,
        episodes=args.episodes,
        motions=args.motions,
        noise_scale=args.noise_scale,
        seed=args.seed,
        json_path=args.json,
        video=args.video,
        video_clip=args.video_clip,
        video_size=(args.video_width, args.video_height),
        log=not args.no_log,
    )
    noise = f", goal noise {args.noise_scale:g} m" if args.noise_scale > 0 else ""
    print(f"{result['policy']} of {args.run_dir} at checkpoint {result['checkpoint']}{noise}:")
    print(metrics.table(result))
    print(f"results: {result['json']}")
    if result.get("video"):
        print(f"video: {result['video']}")
    return 0
