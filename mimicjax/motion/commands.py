"""`mimicjax motions info|render`: look inside a motion library."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    motions = subparsers.add_parser("motions", help="inspect a motion library (info, render) and perturb motions")
    sub = motions.add_subparsers(dest="motions_command", metavar="SUBCOMMAND")
    sub.required = True

    info = sub.add_parser("info", help="clips, frames, fps, sources of a library",
                          description="Print what a motion library holds.")
    info.add_argument("library", metavar="LIB.npz")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=info_command)

    render = sub.add_parser("render", help="render one clip to mp4 (MuJoCo offscreen)",
                            description="Render a clip of a motion library: the robot per frame, goal keypoints as red spheres, "
                                        "camera following the pelvis.")
    render.add_argument("library", metavar="LIB.npz")
    render.add_argument("--clip", type=int, default=0, help="clip index (see `mimicjax motions info`)")
    render.add_argument("--out", required=True, metavar="VIDEO.mp4")
    render.add_argument("--width", type=int, default=640)
    render.add_argument("--height", type=int, default=480)
    render.set_defaults(func=render_command)

    perturb = sub.add_parser(
        "perturb", help="add the artefacts of motion lifted from generated videos (levels 0-5)",
        description="Perturb SMPL-family motions with the artefacts of video-lifted motion (mimicjax.motion.noise: "
                    "jitter, wobble, flicker, frame timing, root drift, depth drift, scale, morphology) at one level "
                    "0-5, deterministic per --seed, and write each as an AMASS npz in --out. --plot also measures "
                    "every artefact at every level on the inputs (SMPL joint error) and draws it.")
    perturb.add_argument("inputs", nargs="+", metavar="MOTION", help="SMPL-family files (any format `mimicjax retarget` reads)")
    perturb.add_argument("--level", type=float, required=True, metavar="L", help="0 (unchanged) to 5")
    perturb.add_argument("--seed", type=int, default=0)
    perturb.add_argument("--out", required=True, metavar="DIR")
    perturb.add_argument("--artefact", action="append", default=None, metavar="NAME",
                         help="only this artefact (repeatable; default: all)")
    perturb.add_argument("--fps", type=float, default=None, help="frame rate of inputs that do not record one")
    perturb.add_argument("--plot", default=None, metavar="PNG", help="also plot the error of each artefact at each level")
    perturb.set_defaults(func=perturb_command)


def info_command(args: argparse.Namespace) -> int:
    import json

    from mimicjax.motion.library import library_summary, load_library

    summary = library_summary(load_library(args.library))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.library}: {summary['robot']}, {summary['clips']} clips, {summary['frames']} frames, "
          f"{summary['total_seconds']:.1f} s, {len(summary['joint_names'])} joints, {len(summary['keypoint_names'])} keypoints")
    header = f"{'#':>3}  {'name':<32} {'frames':>6} {'fps':>6} {'seconds':>8} {'weight':>6} {'mirror of':>9}  source"
    print(header)
    print("-" * len(header))
    for clip in summary["clip_table"]:
        mirror = "" if clip["mirror_of"] < 0 else str(clip["mirror_of"])
        print(f"{clip['index']:>3}  {clip['name'][:32]:<32} {clip['frames']:>6} {clip['fps']:>6g} {clip['seconds']:>8.2f} "
              f"{clip['weight']:>6g} {mirror:>9}  {clip['source']}")
    return 0


def render_command(args: argparse.Namespace) -> int:
    from mimicjax.motion.render import choose_gl_backend

    choose_gl_backend()  # before mujoco is imported
    from mimicjax.io_utils import check_writable_file
    from mimicjax.motion.library import load_library
    from mimicjax.motion.render import render_clip

    if args.width < 1 or args.height < 1:
        raise ValueError(f"--width and --height must be at least 1, got {args.width}x{args.height}")
    check_writable_file(args.out, "--out")
    lib = load_library(args.library)
    if not 0 <= args.clip < lib.num_clips:
        raise ValueError(f"{args.library} has {lib.num_clips} clips; pass --clip 0..{lib.num_clips - 1}")
    count = render_clip(lib, args.clip, args.out, args.width, args.height, progress=True)
    print(f"wrote {args.out} ({count} frames, clip {args.clip} '{lib.meta.clip_names[args.clip]}')")
    return 0


def perturb_command(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from mimicjax.human import load_human_motion, save_amass_npz
    from mimicjax.io_utils import atomic_write_text, check_writable_file
    from mimicjax.motion import noise

    artefacts = tuple(args.artefact) if args.artefact else noise.ARTEFACT_NAMES
    unknown = sorted(set(artefacts) - set(noise.ARTEFACT_NAMES))
    if unknown:
        raise ValueError(f"--artefact {unknown[0]!r} is unknown; choose from {', '.join(noise.ARTEFACT_NAMES)}")
    if not 0 <= args.level <= noise.MAX_LEVEL:
        raise ValueError(f"--level must be within 0..{noise.MAX_LEVEL}, got {args.level:g}")
    out = Path(args.out)
    check_writable_file(out / "probe.npz", "--out")
    check_writable_file(args.plot, "--plot")
    motions = [load_human_motion(path, fps=args.fps) for path in args.inputs]  # every input read before any write
    stems = [Path(path).stem for path in args.inputs]
    if len(set(stems)) != len(stems):
        raise ValueError("two inputs share a file name; --out would hold only one of them")
    for stem, motion in zip(stems, motions):
        noisy = noise.perturb(motion, args.level, args.seed, artefacts)
        save_amass_npz(noisy, out / f"{stem}.npz")
        print(f"wrote {out / (stem + '.npz')} ({noisy.num_frames} frames, level {args.level:g}, seed {args.seed})")
    if args.plot:
        table = noise.error_table(motions, seed=args.seed)
        noise.plot_error_table(table, args.plot, title=f"{len(motions)} clip(s), seed {args.seed}")
        atomic_write_text(Path(args.plot).with_suffix(".json"), json.dumps(table, indent=2) + "\n")
        print(f"wrote {args.plot} and its numbers {Path(args.plot).with_suffix('.json')}")
    return 0
