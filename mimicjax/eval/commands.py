"""`mimicjax eval`: success rate and keypoint errors of a teacher or student run, per clip; videos.

    mimicjax eval --run-dir runs/student [--checkpoint N] [--episodes K] [--random-starts R]
                  [--noise-scale 0.05] [--json OUT.json] [--video OUT.mp4 [--video-clip I|I,J|all]]
                  [--motions LIB.npz]

Every clip is run from its start (`--episodes` episodes) and from `--random-starts` random times
(uniform in [0, duration - min(--min-remaining, duration)], drawn from `--seed`). Prints a table with
the episodes from the start, from random starts and all together, per clip and overall; writes the
results as JSON (default `RUN_DIR/eval/checkpoint_<N>[_noise_<S>].json`), and logs them to the run's
TensorBoard under "eval/..." (or "eval/noise_<S>/...") at the checkpoint's iteration.

JSON: "success_rate" and "keypoint_error" (mean, m) of all episodes (from the start and from random
starts together), and "success_rate_from_start", "success_rate_random_starts", ... for each kind;
"overall" (the summary of all episodes: success rate, failures, errors per keypoint group, termination
causes), "from_start" and "random_starts" (the same for each kind of start; null when there is none),
"clips" (per clip: the summary of all its episodes with "from_start"/"random_starts" inside),
"per_episode" (clip, start time, success, seconds of every episode), "video"/"video_clips" (with
`--video`), and the settings.

`--video` renders the from-start episode of `--video-clip` (or of several clips, `--video-clip 0,2`, or
of every clip, `--video-clip all`, one after another in one file) with the tracking terminations
disabled and the episode limit lifted, so the video always shows the whole clip, with the reference
motion as a translucent ghost robot and the goal keypoints as spheres.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_RANDOM_STARTS = 16
ALL_CLIPS = "all"


def video_clip_arg(text: str) -> int | list[int] | str:
    """`--video-clip`: a clip index, comma-separated indices, or "all"."""
    if text.strip().lower() == ALL_CLIPS:
        return ALL_CLIPS
    try:
        clips = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a clip index, indices like 0,2 or {ALL_CLIPS!r}, got {text!r}") from None
    return clips[0] if len(clips) == 1 else clips


def register(subparsers) -> None:
    from mimicjax.eval import MIN_REMAINING_SECONDS

    parser = subparsers.add_parser(
        "eval",
        help="evaluate a teacher or student run: success rate, keypoint errors, videos",
        description="Run every clip of the motion library with the run's policy (mean actions, no "
        "randomisation or sensor noise), from its start and from random start times, and report the "
        "success rate (episodes that reach the end of their clip, or the episode limit, without a "
        "termination) and keypoint errors, overall, per keypoint group and per clip, for the episodes from "
        "the start, from random starts and all together.",
    )
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="a `mimicjax train` or `mimicjax distill` run")
    parser.add_argument("--checkpoint", type=int, default=None, metavar="N", help="checkpoint step (default: latest)")
    parser.add_argument("--episodes", type=int, default=1, metavar="K",
                        help="episodes per clip from its start (default 1; they differ only under --noise-scale)")
    parser.add_argument("--random-starts", type=int, default=DEFAULT_RANDOM_STARTS, metavar="R",
                        help=f"episodes per clip from random start times (default {DEFAULT_RANDOM_STARTS}; 0: none)")
    parser.add_argument("--min-remaining", type=float, default=MIN_REMAINING_SECONDS, metavar="SECONDS",
                        help=f"a random start leaves at least this much of its clip (default {MIN_REMAINING_SECONDS:g} "
                        "s; clips shorter than that start at 0)")
    parser.add_argument("--motions", default=None, metavar="LIB.npz", help="motion library (default: the run's)")
    parser.add_argument("--noise-scale", type=float, default=0.0, metavar="S",
                        help="Gaussian jitter (m) on the goal keypoints, as in motions from generated videos")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random start times and the goal noise")
    parser.add_argument("--json", default=None, metavar="OUT.json", help="where to write the results")
    parser.add_argument("--video", default=None, metavar="OUT.mp4",
                        help="render the whole clip from its start, with the reference as a ghost and the goal keypoints")
    parser.add_argument("--html", default=None, metavar="OUT.html",
                        help="an interactive 3-D replay of the same episodes as --video (robot, ghost, goal keypoints) "
                        "in one web page (Brax's viewer; needs no OpenGL)")
    parser.add_argument("--video-clip", type=video_clip_arg, default=0, metavar="I|I,J,..|all",
                        help="clip of the video and replay (default 0), several (one after another), or 'all'")
    parser.add_argument("--video-stride", type=int, default=1, metavar="N",
                        help="render every N-th control step (default 1: all, at the control rate)")
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
    video_clip: int | str = 0,
    video_size: tuple[int, int] = (640, 480),
    log: bool = True,
    random_starts: int = DEFAULT_RANDOM_STARTS,
    min_remaining: float | None = None,
    video_stride: int = 1,
    html: str | Path | None = None,
) -> dict:
    """Evaluate the run's policy; returns the results (also written as JSON, and logged when `log`)."""
    from mimicjax.config import ConfigError
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.eval import metrics
    from mimicjax.eval import rollout as rollout_lib
    from mimicjax.io_utils import atomic_write_text
    from mimicjax.train import runs
    from mimicjax.train.checkpoint import dumps
    from mimicjax.train.loop import load_motions

    if not runs.has_checkpoints(run_dir):
        raise ConfigError(f"{run_dir} holds no checkpoint to evaluate; train it with `mimicjax train` or "
                          f"`mimicjax distill` first")
    min_remaining = rollout_lib.MIN_REMAINING_SECONDS if min_remaining is None else float(min_remaining)
    config = runs.read_run_config(run_dir, checkpoint)
    library = load_motions(config, motions)
    video_clips = _video_clips(video_clip, library.num_clips) if video is not None or html is not None else []
    if video_stride < 1:
        raise ConfigError(f"--video-stride must be at least 1, got {video_stride}")
    plan = rollout_lib.evaluation_plan(library, episodes, random_starts, noise_scale, seed, min_remaining)
    env = rollout_lib.evaluation_env(config, plan.library)
    structure_env = TrackingEnv(config.env, plan.library, sim=env.sim)
    policy = rollout_lib.load_policy(run_dir, checkpoint, env=structure_env)
    record = rollout_lib.run_plan(policy, env, plan, seed)

    per_episode = metrics.episodes(record["metrics"], record["terminated"], record["truncated"], env.dt)
    result = {
        "run_dir": str(run_dir),
        "policy": policy.kind,
        "checkpoint": policy.step,
        "episodes_per_clip": episodes,
        "random_starts_per_clip": random_starts,
        "random_start_min_remaining_seconds": min_remaining,
        "noise_scale": noise_scale,
        "seed": seed,
        "motions": str(motions or config.motions.library or "samples"),
        "control_dt": env.dt,
        "rollout_steps": int(record["terminated"].shape[0]),
        **metrics.report(per_episode, plan.source_clips, library.meta.clip_names, plan.from_start),
        "per_episode": [
            {"clip": int(clip), "start_time": float(start), "from_start": bool(first), "success": bool(success),
             "seconds": float(seconds)}
            for clip, start, first, success, seconds in zip(plan.source_clips, plan.start_times, plan.from_start,
                                                            per_episode["success"], per_episode["seconds"])
        ],
    }
    result.update(headline(result))
    out = Path(json_path) if json_path else default_json_path(run_dir, policy.step, noise_scale)
    result["json"] = str(out)
    if video is not None or html is not None:
        segments, clips_info, fps = _episode_segments(policy, plan, config, env, video_clips, seed, per_episode,
                                                      video_stride)
        result["video_clips"] = clips_info
    if video is not None:
        rendered = _render_video(video, config, segments, fps, video_size)
        result["video"] = str(video) if rendered else None
    if html is not None:
        from mimicjax.eval import html as html_lib

        html_lib.write_html(html, config.env.load_robot(), segments)
        result["html"] = str(html)
    atomic_write_text(out, dumps(result) + "\n")
    if log:
        from mimicjax.train.run_log import RunLogger

        with RunLogger(run_dir) as logger:
            logger.scalars(metrics.scalars(result, scalar_prefix(noise_scale)), step=policy.step)
    return result


def headline(result: dict) -> dict:
    """Top-level figures (what scripts and `mimicjax plot` read): "success_rate" and "keypoint_error" (mean,
    m) of all episodes, and the same with "_from_start" / "_random_starts" (None without such episodes)."""
    out = {}
    for suffix, summary in (("", result["overall"]), ("_from_start", result.get("from_start")),
                            ("_random_starts", result.get("random_starts"))):
        out[f"success_rate{suffix}"] = None if summary is None else summary["success_rate"]
        out[f"keypoint_error{suffix}"] = None if summary is None else summary["keypoint_error"]["mean"]
    return out


def _video_clips(video_clip, num_clips: int) -> list[int]:
    """The clip indices of a `--video-clip` value: an index, a list of indices, or "all"."""
    from mimicjax.config import ConfigError

    if isinstance(video_clip, str):
        if video_clip.strip().lower() != ALL_CLIPS:
            raise ConfigError(f"--video-clip takes clip indices or {ALL_CLIPS!r}, got {video_clip!r}")
        return list(range(num_clips))
    clips = [int(c) for c in (video_clip if isinstance(video_clip, (list, tuple)) else [video_clip])]
    for clip in clips:
        if not 0 <= clip < num_clips:
            raise ConfigError(f"--video-clip {clip} does not exist: the library has clips 0..{num_clips - 1}")
    if not clips:
        raise ConfigError("--video-clip names no clip")
    return clips


def _episode_segments(policy, plan, config, env, clips: list[int], seed: int, per_episode, stride: int = 1):
    """Run the whole from-start episode of each clip in `clips` (terminations off) for a video or replay.

    Returns (`render.Segment`s: the robot, the reference as a ghost and the goal keypoints at every
    `stride`-th control step; per clip {"clip", "name", "steps" (control steps of the episode), "frames",
    "seconds", "success_in_eval" (the evaluation's from-start episode of the clip)}; frames per second)."""
    from mimicjax.eval import render
    from mimicjax.eval import rollout as rollout_lib

    episodes = [clip * plan.episodes for clip in clips]  # each clip's first from-start episode
    env_clips = plan.env_clips[episodes]
    video_env = rollout_lib.render_env(config, plan.library, sim=env.sim)
    record = rollout_lib.render_episodes(policy, video_env, plan.library, env_clips, seed)
    segments, info = [], []
    names = plan.library.meta.clip_names
    for i, (clip, env_clip, episode) in enumerate(zip(clips, env_clips, episodes)):
        qpos, times = render.episode_frames(record, i)
        steps = len(qpos)
        qpos, times = qpos[::stride], times[::stride]
        segments.append(render.Segment(qpos, render.reference_qpos(plan.library, int(env_clip), times),
                                       render.goal_keypoints(plan.library, int(env_clip), times)))
        info.append({"clip": int(clip), "name": str(names[int(env_clip)]), "steps": steps, "frames": len(qpos),
                     "seconds": float(steps * video_env.dt), "success_in_eval": bool(per_episode["success"][episode])})
    return segments, info, 1.0 / (stride * video_env.dt)


def _render_video(out, config, segments, fps: float, size) -> bool:
    """Write `segments` into one mp4 at `out`; False (with a message) when no OpenGL backend works."""
    import sys

    from mimicjax.eval import render

    reason = render.gl_unavailable()
    if reason is not None:
        print(f"mimicjax eval: skipping the video: no offscreen OpenGL backend works here ({reason}). "
              f"Install OSMesa (libosmesa6) or EGL, or set MUJOCO_GL=osmesa|egl; --html needs no OpenGL.",
              file=sys.stderr)
        return False
    width, height = size
    render.write_video(out, config.env.load_robot(), segments, fps=fps, width=width, height=height,
                       progress=sys.stderr.isatty())
    return True


def print_results(result: dict, run_dir, noise_scale: float = 0.0) -> None:
    from mimicjax.eval import metrics

    noise = f", goal noise {noise_scale:g} m" if noise_scale > 0 else ""
    random = (f", {result['random_starts_per_clip']} random starts per clip"
              if result.get("random_starts_per_clip") else "")
    print(f"{result['policy']} of {run_dir} at checkpoint {result['checkpoint']}{noise}{random}:")
    print(metrics.table(result))
    print(f"results: {result['json']}")
    if result.get("video"):
        print(f"video: {result['video']}")


def eval_command(args: argparse.Namespace) -> int:
    from mimicjax.io_utils import check_writable_file

    check_writable_file(args.json, "--json")  # before the rollout, not after
    check_writable_file(args.video, "--video")
    check_writable_file(args.html, "--html")
    if args.video_width < 1 or args.video_height < 1:
        raise ValueError(f"--video-width and --video-height must be at least 1, got {args.video_width}x{args.video_height}")
    if args.video:
        from mimicjax.motion.render import choose_gl_backend

        choose_gl_backend()  # before anything imports mujoco
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
        random_starts=args.random_starts,
        min_remaining=args.min_remaining,
        video_stride=args.video_stride,
        html=args.html,
    )
    print_results(result, args.run_dir, args.noise_scale)
    return 0
