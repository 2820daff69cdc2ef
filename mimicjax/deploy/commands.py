"""`mimicjax export`: a trained policy on its own, small enough to ship (see `mimicjax.deploy`)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's policy alone (parameters + normaliser, a few MB) as a run folder eval and distill read",
        description="Export the policy of one checkpoint of a `mimicjax train` or `mimicjax distill` run: its "
        "network parameters and observation normaliser with the run's config, as a small run folder that "
        "`mimicjax eval`, `mimicjax distill --teacher-dir` and the demo read like the run itself (no optimiser "
        "or rollout state, so it cannot be resumed). With --out POLICY.onnx, the student's normaliser and network "
        "as one ONNX graph (opset 11) with the robot and observation description in its metadata, checked "
        "against the JAX policy with onnxruntime before it is written.",
    )
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="a `mimicjax train` or `mimicjax distill` run")
    parser.add_argument("--out", required=True, metavar="DIR|POLICY.onnx",
                        help="a folder (e.g. data/policies/NAME), or a .onnx file for the student's ONNX graph")
    parser.add_argument("--checkpoint", type=int, default=None, metavar="N", help="checkpoint step (default: latest)")
    parser.add_argument("--average", type=steps_arg, default=None, metavar="N,N,...",
                        help="export the mean parameters of these checkpoints (e.g. the last few of a DAgger run), "
                        "with the newest one's observation normaliser")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=export_command)

    sim2sim = subparsers.add_parser(
        "sim2sim",
        help="run an exported student (ONNX) in MuJoCo's C engine with the NumPy observation builder",
        description="Run the exported student in plain MuJoCo (no JAX, no MJX), as a robot loop would: the ONNX "
        "runtime and mimicjax.deploy.observation every control step, the physics, PD targets and termination "
        "thresholds from the policy's metadata. Each clip runs from its start; success and keypoint errors are "
        "measured as `mimicjax eval` measures them.",
    )
    sim2sim.add_argument("--onnx", required=True, metavar="POLICY.onnx", help="from `mimicjax export --out POLICY.onnx`")
    sim2sim.add_argument("--motions", required=True, metavar="LIB.npz", help="a motion library (`mimicjax retarget --out`)")
    sim2sim.add_argument("--clip", type=int, action="append", default=None, metavar="N",
                         help="evaluate only clip N (repeatable; default: every clip)")
    sim2sim.add_argument("--json", default=None, metavar="OUT.json", help="write the results here")
    sim2sim.add_argument("--video", default=None, metavar="OUT.mp4", help="render the first evaluated clip")
    sim2sim.add_argument("--video-width", type=int, default=640, metavar="W")
    sim2sim.add_argument("--video-height", type=int, default=480, metavar="H")
    sim2sim.set_defaults(func=sim2sim_command)


def steps_arg(text: str) -> list[int]:
    try:
        steps = [int(step) for step in text.split(",") if step.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected checkpoint steps such as 800,900,1000, got {text!r}") from None
    if len(set(steps)) < 2:
        raise argparse.ArgumentTypeError(f"--average needs at least two different checkpoint steps, got {text!r}")
    return steps


def export_command(args: argparse.Namespace) -> int:
    if str(args.out).endswith(".onnx"):
        return export_onnx_command(args)
    from mimicjax.deploy.export import AVERAGED_KEY, SAMPLE_CLIPS, TRAINED_ON_KEY, export_policy
    from mimicjax.train.checkpoint import read_metadata
    from mimicjax.train.runs import POLICY_KEY, checkpoints_dir, read_run_config

    out = export_policy(args.run_dir, args.out, args.checkpoint, overwrite=args.overwrite, average=args.average)
    meta = read_metadata(checkpoints_dir(out))
    size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    source = (f"the mean of checkpoints {', '.join(map(str, meta[AVERAGED_KEY]))}" if AVERAGED_KEY in meta
              else f"checkpoint {meta['exported_from']['step']}")
    print(f"exported the {meta[POLICY_KEY]} of {args.run_dir} ({source}) to {out} ({size_mb:.1f} MB)")
    if not read_run_config(out).motions.library and meta[TRAINED_ON_KEY] != SAMPLE_CLIPS:
        print(f"it was trained on {meta[TRAINED_ON_KEY]}; evaluate it with `mimicjax eval --run-dir {out} --motions LIB.npz` "
              f"(without --motions eval uses the sample clips)")
    return 0


def export_onnx_command(args: argparse.Namespace) -> int:
    """`--out POLICY.onnx`: the student as one ONNX graph, checked against the JAX policy with onnxruntime."""
    from pathlib import Path

    from mimicjax.deploy.export import policy_to_export
    from mimicjax.deploy.onnx_export import student_onnx, verify_onnx
    from mimicjax.errors import ReportedError
    from mimicjax.io_utils import atomic_path, check_writable_file

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ReportedError(f"{out} already exists; choose another --out or pass --overwrite")
    check_writable_file(out, "--out")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ReportedError("ONNX export needs onnx and onnxruntime: pip install 'mimicjax[deploy]'") from None
    policy = policy_to_export(args.run_dir, args.checkpoint, args.average)
    model = student_onnx(policy)
    error = verify_onnx(model, policy)
    with atomic_path(out) as tmp:
        tmp.write_bytes(model.SerializeToString())
    source = f"the mean of checkpoints {args.average}" if args.average else f"checkpoint {policy.step}"
    print(f"exported the student of {args.run_dir} ({source}) to {out} "
          f"({out.stat().st_size / 2**20:.1f} MB); onnxruntime matches the JAX policy to {error:.1e}")
    return 0


def sim2sim_command(args: argparse.Namespace) -> int:
    import json

    from mimicjax.errors import ReportedError
    from mimicjax.io_utils import atomic_write_text, check_writable_file

    check_writable_file(args.json, "--json")
    check_writable_file(args.video, "--video")
    if args.video_width < 1 or args.video_height < 1:
        raise ReportedError(f"--video-width and --video-height must be at least 1, got {args.video_width}x{args.video_height}")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ReportedError("sim2sim needs onnxruntime: pip install 'mimicjax[deploy]'") from None
    from mimicjax.deploy.sim2sim import evaluate

    result = evaluate(args.onnx, args.motions, clips=args.clip, video=args.video,
                      video_size=(args.video_width, args.video_height))
    print(f"student {args.onnx} in MuJoCo (C) on {args.motions}: success {100 * result['success_rate']:.0f} % of "
          f"{result['overall']['episodes']} clips from their start, keypoint error {100 * result['keypoint_error']:.1f} cm")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        print(f"results: {args.json}")
    if result["video"]:
        print(f"video: {result['video']}")
    return 0
