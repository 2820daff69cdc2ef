"""`mimicjax retarget INPUT... --out LIB.npz`: human motion files to a robot motion library."""

from __future__ import annotations

import argparse

from mimicjax import robots


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "retarget",
        help="retarget human motion files onto a robot (the G1 by default) and pack them into a motion library",
        description="Retarget SMPL-family motion files (AMASS, SMPL-X, GVHMR, WHAM, TRAM, 4D-Humans) onto a robot in "
                    "one batched optimisation and write a motion library (one npz). A file that cannot be read is "
                    "reported and skipped; the exit status is non-zero only if none succeeded (or with --strict).",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="human motion files")
    robots.add_robot_argument(parser, help="the robot to retarget onto")
    parser.add_argument("--out", required=True, metavar="LIB.npz", help="motion library to write")
    parser.add_argument("--export-csv", metavar="DIR", default=None,
                        help="also write DIR/<input stem>.csv per clip: root x y z, root quaternion w x y z, joints (MJCF order)")
    parser.add_argument("--body-model", metavar="PATH", default=None,
                        help="SMPL/SMPL+H/SMPL-X model file or folder (default: built-in skeleton, mean shape)")
    parser.add_argument("--gender", default="neutral", help="body model gender when --body-model is a folder")
    parser.add_argument("--format", default="auto", help="input format (default: detected per file)")
    parser.add_argument("--fps", type=float, default=None, help="frame rate for files that do not record one")
    parser.add_argument("--keep-heading", action="store_true", help="keep each clip's heading (default: first frame faces +x)")
    parser.add_argument("--mirror", action="store_true", help="also store a left/right mirrored copy of every clip")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 200)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a retargeting setting, e.g. --set floor=20 --set smoothness=1e-6 "
                             "(fields of mimicjax.retarget.solver.RetargetConfig)")
    parser.add_argument("--strict", action="store_true", help="fail if any input fails")
    parser.add_argument("--report", metavar="REPORT.json", default=None, help="also write the per-clip report as JSON")
    parser.set_defaults(func=retarget_command)


def _unique_stems(paths) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for path in paths:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return out


def _summary_table(results, failures) -> str:
    header = (f"{'clip':<28} {'frames':>6} {'fps':>5} {'kp err mean/max cm':>18} {'limb deg':>8} {'limit viol':>10} "
              f"{'floor pen mm':>12} {'jitter rad/s2':>13}")
    lines = [header, "-" * len(header)]
    for result in results:
        r = result.report
        lines.append(f"{result.name[:28]:<28} {r['frames']:>6} {r['fps']:>5g} "
                     f"{100 * r['keypoint_error_mean_m']:>8.1f} / {100 * r['keypoint_error_max_m']:>6.1f} "
                     f"{r['limb_angle_mean_deg']:>8.1f} {r['joint_limit_violations']:>10} "
                     f"{1000 * r['foot_penetration_max_m']:>12.1f} {r['jitter_rad_s2']:>13.2f}")
    for path, reason in failures:
        lines.append(f"FAILED {path}: {reason}")
    lines.append(f"{len(results)} clip(s) retargeted, {len(failures)} failed")
    return "\n".join(lines)


def retarget_command(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    import numpy as np
    from tqdm import tqdm

    from mimicjax.human import load_human_motion
    from mimicjax.human.smpl import BodyModel
    from mimicjax.io_utils import atomic_write_text, check_writable_file
    from mimicjax.motion.robot_files import save_robot_motion
    from mimicjax.motion.library import build_library, file_sha256, save_library
    from mimicjax.retarget.pipeline import RetargetConfig, retarget_motions
    from mimicjax.retarget.solver import config_with_overrides

    check_writable_file(args.out, "--out")  # before minutes of solving, not after
    if args.export_csv:
        check_writable_file(Path(args.export_csv) / "probe.csv", "--export-csv")
    robot = robots.get(args.robot)
    config = RetargetConfig(align_heading=not args.keep_heading, **({} if args.steps is None else {"steps": args.steps}))
    config = config_with_overrides(config, args.set)
    body_model = BodyModel.skeleton_only() if args.body_model is None else BodyModel.from_file(args.body_model, gender=args.gender)
    paths = [Path(p) for p in args.inputs]
    names = _unique_stems(paths)
    loaded, failures = [], []
    for path, name in tqdm(list(zip(paths, names)), desc="reading", unit="file", disable=len(paths) < 2):
        try:
            motion = load_human_motion(path, format=args.format, fps=args.fps)
            loaded.append((path, name, motion, file_sha256(path)))
        except (ValueError, OSError) as error:  # MotionFormatError is a ValueError
            if args.strict:
                raise
            failures.append((str(path), str(error)))
            tqdm.write(f"skipping {path}: {error}", file=sys.stderr)
    if not loaded:
        for path, reason in failures:
            print(f"FAILED {path}: {reason}", file=sys.stderr)
        print("mimicjax retarget: no input could be read; nothing written", file=sys.stderr)
        return 1

    total = sum(m.num_frames for _, _, m, _ in loaded)
    print(f"retargeting {len(loaded)} clip(s), {total} frames, onto the {robot.title} ({config.steps} Adam steps) ...",
          file=sys.stderr)
    results = retarget_motions([m for _, _, m, _ in loaded], robot, body_model=body_model, config=config,
                               names=[n for _, n, _, _ in loaded], progress=len(loaded) > 1)
    good, kept = [], []
    for (path, name, motion, sha), result in zip(loaded, results):
        m = result.motion
        if not all(np.all(np.isfinite(a)) for a in (m.root_pos, m.root_quat, m.joint_pos)):
            failures.append((str(path), "the solution is not finite (NaN/Inf); check the input motion"))
            continue
        good.append(result)
        kept.append((path, name, sha))
    if not good or (args.strict and failures):
        print(_summary_table(good, failures), file=sys.stderr)
        return 1

    lib = build_library([r.motion for r in good], robot, names=[n for _, n, _ in kept],
                        sources=[(str(p), sha) for p, _, sha in kept], mirror=args.mirror)
    save_library(lib, args.out)
    if args.export_csv:
        out_dir = Path(args.export_csv)
        for result, (_, name, _) in tqdm(list(zip(good, kept)), desc="csv", unit="clip", disable=len(good) < 2):
            save_robot_motion(result.motion, out_dir / f"{name}.csv", quat_order="wxyz")
    if args.report:
        report = {name: {**r.report, "source": str(p), "sha256": sha} for r, (p, name, sha) in zip(good, kept)}
        report["_failed"] = dict(failures)
        atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
    print(_summary_table(good, failures))
    print(f"wrote {args.out} ({lib.num_clips} clips, {lib.num_frames} frames)" + (f" and CSVs in {args.export_csv}" if args.export_csv else ""))
    return 0
