"""`mimicjax bench h2rep`: how fast and how well H2Rep is made.

Speed, on a synthetic video of `--frames` frames at `--width` x `--height` (default 480p): removal
frames/s with a static camera and with homography alignment (`--align`), and cue drawing frames/s.
Quality, on the dataset the project renders (`--dataset DIR` from `translate make-data`, or
`--render N` clips rendered here): removal PSNR against the true background inside the masks, apart
for pixels another frame shows and pixels no frame shows, and the drawn cue's centre against the
projected gripper position. PSNR is null where undefined (no such pixels, or an exact copy: see the
mean squared errors beside it).
"""

from __future__ import annotations

import argparse

import numpy as np

from mimicjax.bench.common import best_seconds



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=854, help="synthetic video width (default 854: 480p)")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (best is reported)")
    parser.add_argument("--dataset", metavar="DIR", default=None, help="measure quality on this rendered dataset")
    parser.add_argument("--render", type=int, default=0, metavar="N",
                        help="render N robot clips (and N human stand-in clips) here and measure quality on them")
    parser.add_argument("--render-size", default="320x240", metavar="WxH", help="size of the clips --render makes")
    parser.add_argument("--figure", metavar="OUT.png", default=None,
                        help="with a dataset: frames, masks, removal and H2Rep of its first robot and human clip")
    parser.add_argument("--seed", type=int, default=0)


def synthetic_video(frames: int, height: int, width: int, seed: int = 0):
    """A smooth textured static scene with an "arm" (a bar) sweeping across: (frames, masks, background)."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (max(2, height // 16), max(2, width // 16), 3)).astype(np.float32)
    background = np.clip(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    video = np.repeat(background[None], frames, axis=0)
    masks = np.zeros((frames, height, width), bool)
    for t in range(frames):
        x = int((0.15 + 0.6 * t / max(frames - 1, 1)) * width)
        masks[t, height // 5 : 4 * height // 5, x : x + width // 10] = True
    video[masks] = (90, 90, 100)
    return video, masks, background


def speed(args) -> dict:
    from mimicjax.translate.h2rep import cue as cue_lib
    from mimicjax.translate.h2rep.removal import remove

    video, masks, _ = synthetic_video(args.frames, args.height, args.width, args.seed)
    t = args.frames
    rng = np.random.default_rng(args.seed)
    track = cue_lib.CueTrack(
        pixels=rng.uniform([0, 0], [args.width, args.height], (t, 2)),
        directions=cue_lib._unit(rng.standard_normal((t, 2))),
        foreshortening=rng.uniform(0, 1, t),
        visible=np.ones(t, bool),
    )
    static_s = best_seconds(lambda: remove(video, masks), args.repeats)
    aligned_s = best_seconds(lambda: remove(video, masks, align=True), args.repeats)
    cue_s = best_seconds(lambda: cue_lib.draw_cues(video, track), args.repeats)
    return {
        "size": [args.width, args.height],
        "frames": t,
        "masked_fraction": float(masks.mean()),
        "removal_static_frames_per_s": t / static_s,
        "removal_aligned_frames_per_s": t / aligned_s,
        "cue_frames_per_s": t / cue_s,
    }


def quality(dataset) -> dict:
    """Removal PSNR and cue-centre error over every clip of a rendered dataset (needs its frames.npz)."""
    from pathlib import Path

    from mimicjax.translate.h2rep import cue as cue_lib
    from mimicjax.translate.h2rep.camera import read_camera
    from mimicjax.translate.h2rep.inputs import read_gripper_poses
    from mimicjax.translate.h2rep.removal import remove

    clips = sorted(p for p in Path(dataset).iterdir() if (p / "frames.npz").is_file())
    if not clips:
        raise ValueError(f"{dataset}: no clip folders with frames.npz (write them with `mimicjax translate make-data`)")
    squared = {"seen": [0.0, 0], "never_seen": [0.0, 0]}
    centre_errors, rows = [], []
    for clip in clips:
        with np.load(clip / "frames.npz") as data:
            video, background, masks = data["video"], data["background"], data["masks"]
        result = remove(video, masks)
        diff = (result.frames.astype(np.float64) - background.astype(np.float64)) ** 2
        seen, never = masks & result.from_other_frames, result.never_seen
        for name, where in (("seen", seen), ("never_seen", never)):
            squared[name][0] += float(diff[where].sum())
            squared[name][1] += int(where.sum()) * 3
        camera = read_camera(clip / "camera.json")
        poses = read_gripper_poses(clip / "ee_pose.npz")
        track = cue_lib.cue_from_world_pose(poses.position, poses.rotation, camera)
        drawn = cue_lib.draw_cues(result.frames, track)
        projected = camera.project(poses.position)
        for t in np.flatnonzero(track.visible):
            centre_errors.append(float(np.linalg.norm(cue_lib.cue_centre(result.frames[t], drawn[t]) - projected[t])))
        rows.append({"clip": clip.name, "masked_pixels": int(masks.sum()),
                     "never_seen_fraction_of_masked": float(never.sum() / max(masks.sum(), 1)),
                     "mse_seen": _mean(diff[seen]), "mse_never_seen": _mean(diff[never]),
                     "psnr_seen_db": _psnr(diff[seen]), "psnr_never_seen_db": _psnr(diff[never])})
    return {
        "clips": len(clips),
        "removal_psnr_seen_db": _pooled_psnr(*squared["seen"]),
        "removal_psnr_never_seen_db": _pooled_psnr(*squared["never_seen"]),
        "cue_centre_error_px": ({"mean": float(np.mean(centre_errors)), "max": float(np.max(centre_errors))}
                                if centre_errors else None),
        "per_clip": rows,
    }


def figure(dataset, out, times=(0.25, 0.5, 0.75)) -> None:
    """Rows: a robot and a human clip at a few times; columns: video, mask, removal, H2Rep, truth."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mimicjax.io_utils import atomic_path
    from mimicjax.translate.h2rep import cue as cue_lib
    from mimicjax.translate.h2rep.camera import read_camera
    from mimicjax.translate.h2rep.inputs import read_gripper_poses, read_hand_keypoints
    from mimicjax.translate.h2rep.prepare import clip_kind, hand_track
    from mimicjax.translate.h2rep.removal import remove

    clips = sorted(p for p in Path(dataset).iterdir() if (p / "frames.npz").is_file())
    chosen = [next((c for c in clips if clip_kind(c) == kind), None) for kind in ("robot", "human")]
    chosen = [c for c in chosen if c is not None]
    if not chosen:
        raise ValueError(f"{dataset}: no clip folders with frames.npz to draw")
    columns = ("video", "mask", "arm removed", "H2Rep", "true background")
    fig, axes = plt.subplots(len(chosen) * len(times), len(columns), figsize=(2.2 * len(columns), 1.75 * len(chosen) * len(times)))
    axes = np.atleast_2d(axes)
    row = 0
    for clip in chosen:
        with np.load(clip / "frames.npz") as data:
            video, background, masks = data["video"], data["background"], data["masks"]
        removed = remove(video, masks).frames
        camera = read_camera(clip / "camera.json")
        if clip_kind(clip) == "robot":
            poses = read_gripper_poses(clip / "ee_pose.npz")
            track = cue_lib.cue_from_world_pose(poses.position, poses.rotation, camera)
        else:
            track = hand_track(read_hand_keypoints(clip / "hand_keypoints.npz", camera.width, camera.height), camera.width, camera.height, camera)
        h2rep = cue_lib.draw_cues(removed, track)
        for fraction in times:
            t = int(round(fraction * (len(video) - 1)))
            for col, image in enumerate((video[t], masks[t], removed[t], h2rep[t], background[t])):
                ax = axes[row, col]
                ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(columns[col], fontsize=9)
                if col == 0:
                    ax.set_ylabel(f"{clip.name}\nframe {t}", fontsize=8)
            row += 1
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _pooled_psnr(sum_squared: float, count: int) -> float | None:
    """PSNR in dB; None (JSON null) where it is undefined: no pixels, or an exact copy (mean error 0)."""
    if count == 0 or sum_squared == 0:
        return None
    return float(10 * np.log10(255.0**2 * count / sum_squared))


def _psnr(squared_errors: np.ndarray) -> float | None:
    return _pooled_psnr(float(squared_errors.sum()), squared_errors.size)


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def run(args: argparse.Namespace) -> dict:
    import os
    import platform
    import tempfile

    from mimicjax.bench.common import load_average

    if args.width < 16 or args.height < 16 or args.frames < 2 or args.repeats < 1:
        raise ValueError("--width/--height must be >= 16, --frames >= 2 and --repeats >= 1")
    if args.figure and not (args.dataset or args.render):
        raise ValueError("--figure draws clips of a dataset: give --dataset DIR or --render N")
    report = {"benchmark": "h2rep", "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "load_average": load_average(), "speed": speed(args)}
    if args.dataset:
        report["quality"] = quality(args.dataset)
        if args.figure:
            figure(args.dataset, args.figure)
    elif args.render:
        from mimicjax.translate.h2rep.dataset import make_dataset

        from mimicjax.translate.commands import parse_size

        width, height = parse_size(args.render_size, "--render-size")
        with tempfile.TemporaryDirectory() as folder:
            make_dataset(folder, args.render, width=width, height=height, seed=args.seed)
            make_dataset(folder, args.render, width=width, height=height, seed=args.seed, human=True)
            report["quality"] = quality(folder)
            if args.figure:
                figure(folder, args.figure)
    return report
