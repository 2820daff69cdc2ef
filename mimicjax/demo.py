"""`mimicjax demo`: the whole GenMimic pipeline on the sample data the project ships.

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


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on the sample data (about 10 minutes on a 2-core CPU)",
        description="Retarget the sample SMPL clips onto the G1, train a teacher, distil the student, "
        "evaluate it and render it tracking the goal keypoints. Results go to --out.",
    )
    parser.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default runs/demo)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of experiments/demo.py, e.g. --set train.iterations=20",
    )
    parser.set_defaults(func=demo_command)


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
         ["eval", "--run-dir", str(out / "student"), "--video", str(out / "student.mp4"),
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
    for number, (description, argv) in enumerate(stages, 1):
        print(f"\n[{number}/{len(stages)}] {description}\n  $ mimicjax {' '.join(argv)}", flush=True)
        status = cli.main(argv)
        if status != 0:
            print(f"demo stopped: stage {number} failed (exit {status})", file=sys.stderr)
            return status
    minutes = (time.perf_counter() - started) / 60
    print(f"\ndemo finished in {minutes:.1f} min. Results in {out}/:")
    print(f"  reference_walk.mp4   the retargeted walk with its goal keypoints")
    print(f"  student.mp4          the distilled student tracking the goal keypoints in MJX")
    print(f"  student_eval.json    success rate and keypoint errors per clip")
    print(f"  teacher/, student/   TensorBoard runs and checkpoints: tensorboard --logdir {out}")
    return 0
