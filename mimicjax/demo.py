"""`mimicjax demo`: the whole GenMimic pipeline on the sample data the project ships.

First, when the project ships a trained student (`shipped_policy_dir("student")`, under data/policies/),
it is evaluated on every sample clip (from the start and from random starts) and rendered tracking each
whole clip beside its reference ghost (`OUT/shipped_student.mp4`). Then a short fresh training:
sample SMPL clips -> retargeting onto the G1 -> teacher training (PPO) -> student distillation (DAgger)
-> evaluation -> an mp4 of the student tracking the goal keypoints, and TensorBoard runs. Each stage is
one of the ordinary commands, run in order; their outputs stay in the demo folder for inspection.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MOTIONS = ("walk", "wave", "squat")
# Trained policies the project ships: folders whose name says their kind ("..._student_...") holding a
# `mimicjax train`/`mimicjax distill` run directory (checkpoints/<step>/ with the run's resolved config).
POLICIES_DIR = PROJECT_ROOT / "data" / "policies"
SHIPPED_STUDENT_VIDEO = "shipped_student.mp4"
SHIPPED_STUDENT_HTML = "shipped_student.html"
SHIPPED_STUDENT_JSON = "shipped_student_eval.json"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on the sample data (about 10 minutes on a 2-core CPU)",
        description="First evaluate the shipped student (data/policies/*student*, when there is one) on every "
        "sample clip and render it (OUT/shipped_student.mp4); then retarget the sample SMPL clips onto the G1, "
        "train a teacher, distil the student, evaluate it and render it tracking the goal keypoints. Results "
        "go to --out.",
    )
    parser.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default runs/demo)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of experiments/demo.py, e.g. --set train.iterations=20",
    )
    parser.set_defaults(func=demo_command)


def shipped_policy_dir(kind: str = "student", root: str | Path | None = None) -> Path | None:
    """The run directory of the shipped policy of `kind` ("student" or "teacher"), or None.

    Looks in `root` (default `POLICIES_DIR`, data/policies/) for folders whose name contains `kind`
    (case-insensitive) that are a run directory or hold one directly inside; with several, the last by
    name (e.g. the highest version suffix).
    """
    from mimicjax.train.runs import has_checkpoints

    root = Path(POLICIES_DIR if root is None else root)
    if not root.is_dir():
        return None
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and kind.lower() in p.name.lower()):
        for candidate in [folder, *sorted(c for c in folder.iterdir() if c.is_dir())]:
            if has_checkpoints(candidate):
                found.append(candidate)
                break
    return found[-1] if found else None


def shipped_policy_stage(out: Path, run_dir: Path, motions: Path, num_clips: int,
                         video_size: tuple[int, int] = (640, 480), video_stride: int = 2) -> tuple[str, list[str]]:
    """The evaluation of a shipped policy on every sample clip (and their mirror images, when its config
    mirrors), with one video of the whole of each of the `num_clips` sample clips (the mirrored copies,
    which follow them in the library, are evaluated but not rendered), at 50 / `video_stride` fps."""
    width, height = video_size
    clips = ",".join(str(i) for i in range(num_clips))
    return (
        f"evaluate the shipped student ({run_dir}) on every sample clip and render it",
        ["eval", "--run-dir", str(run_dir), "--motions", str(motions), "--json", str(out / SHIPPED_STUDENT_JSON),
         "--video", str(out / SHIPPED_STUDENT_VIDEO), "--html", str(out / SHIPPED_STUDENT_HTML), "--video-clip", clips, "--video-stride", str(video_stride),
         "--video-width", str(width), "--video-height", str(height), "--no-log"],
    )


def run_shipped_policy(out: Path, kind: str = "student", video_size: tuple[int, int] = (640, 480),
                       video_stride: int = 2, extra_args: list[str] = ()) -> int | None:
    """Evaluate and render the shipped policy of `kind` into `out` (see `shipped_policy_stage`), printing
    its table. Returns None (after one line saying so) when none is shipped, else the evaluation's exit
    status (a failure is reported, not raised, so that the demo can go on)."""
    from mimicjax import cli

    run_dir = shipped_policy_dir(kind)
    if run_dir is None:
        print(f"no shipped {kind} policy in {POLICIES_DIR} (a folder named *{kind}* holding a run directory); "
              f"skipping its evaluation", flush=True)
        return None
    try:
        from mimicjax.motion.library import load_library
        from mimicjax.train import runs
        from mimicjax.train.loop import sample_library_path

        motions = sample_library_path(runs.read_run_config(run_dir).env.robot)
        num_clips = load_library(motions).num_clips
    except Exception as error:  # an unreadable or incompatible shipped run: say so, and let the demo go on
        print(f"cannot use the shipped {kind} policy in {run_dir}: {type(error).__name__}: {error}",
              file=sys.stderr, flush=True)
        return 2
    description, argv = shipped_policy_stage(out, run_dir, motions, num_clips, video_size, video_stride)
    argv = [*argv, *extra_args]
    print(f"\n[shipped] {description}\n  $ mimicjax {' '.join(argv)}", flush=True)
    try:
        return cli.main(argv)
    except Exception as error:  # e.g. a checkpoint from an incompatible version: the demo goes on without it
        print(f"mimicjax eval: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1


def demo_stages(out: Path, overrides: list[str]) -> list[tuple[str, list[str]]]:
    """The demo as a list of (description, command-line arguments)."""
    motions = [str(PROJECT_ROOT / "data" / "motions" / f"{name}.npz") for name in SAMPLE_MOTIONS]
    library = str(out / "motions_g1_23dof.npz")
    sets = [arg for override in overrides for arg in ("--set", override)]
    return [
        ("retarget the sample SMPL clips onto the G1",
         ["retarget", *motions, "--robot", "g1_23dof", "--out", library, "--export-csv", str(out / "csv")]),
        ("render the retargeted walk with its goal keypoints",
         ["motions", "render", library, "--clip", "0", "--out", str(out / "reference_walk.mp4")]),
        ("train the teacher with PPO",
         ["train", "--config", str(PROJECT_ROOT / "experiments" / "demo.py"), "--run-dir", str(out / "teacher"),
          "--motions", library, *sets]),
        ("distil the student with DAgger",
         ["distill", "--teacher-dir", str(out / "teacher"), "--run-dir", str(out / "student"), *sets]),
        ("evaluate the student and render it",
         ["eval", "--run-dir", str(out / "student"), "--video", str(out / "student.mp4"), "--video-stride", "2",
          "--json", str(out / "student_eval.json")]),
    ]


def demo_command(args: argparse.Namespace) -> int:
    from mimicjax import cli
    from mimicjax.errors import ReportedError

    out = Path(args.out)
    if (out / "teacher").exists():
        raise ReportedError(f"{out} already holds a demo run; remove it or choose another --out")
    if not (PROJECT_ROOT / "experiments" / "demo.py").is_file():
        raise ReportedError("the demo runs from a clone of the repository (experiments/ and data/ are not installed)")
    stages = demo_stages(out, args.overrides)
    started = time.perf_counter()
    shipped = run_shipped_policy(out)
    if shipped:
        print(f"the shipped student's evaluation failed (exit {shipped}); going on with the fresh training",
              file=sys.stderr, flush=True)
    for number, (description, argv) in enumerate(stages, 1):
        print(f"\n[{number}/{len(stages)}] {description}\n  $ mimicjax {' '.join(argv)}", flush=True)
        status = cli.main(argv)
        if status != 0:
            print(f"demo stopped: stage {number} failed (exit {status})", file=sys.stderr)
            return status
    minutes = (time.perf_counter() - started) / 60
    print(f"\ndemo finished in {minutes:.1f} min. Results in {out}/:")
    if shipped == 0:
        print(f"  {SHIPPED_STUDENT_VIDEO:<20} the shipped student on every sample clip, its reference as a ghost")
        print(f"  {SHIPPED_STUDENT_HTML:<20} the same episodes as an interactive 3-D replay (open in a browser)")
        print(f"  {SHIPPED_STUDENT_JSON:<20} its success rate and keypoint errors per clip")
    elif shipped:
        print(f"  (the shipped student's evaluation failed, exit {shipped}: see its messages above)")
    print("  reference_walk.mp4   the retargeted walk with its goal keypoints")
    print("  student.mp4          the distilled student tracking the whole walk (its reference as a ghost) in MJX")
    print("  student_eval.json    success rate and keypoint errors per clip")
    print(f"  teacher/, student/   TensorBoard runs and checkpoints: tensorboard --logdir {out}")
    return 0
