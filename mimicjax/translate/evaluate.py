"""`translate eval`: how well a fine-tuned translator redraws held-out robot clips from their H2Rep videos.

    mimicjax translate eval --run-dir RUN_DIR [--data DATASET] --json OUT.json

Each held-out clip of the run (its split of the dataset; the cached condition latents it was never trained
on) is sampled by the fine-tuned model and by the untuned base (no adapter, the run's runtime options,
the same noise), decoded, and compared with the real video fitted to the run's grid:

* PSNR and SSIM against the real video; and PSNR against the VAE's reconstruction of the real video,
  which is what a perfect transformer would give through this VAE, so it measures the transformer alone
  (the "vae_reconstruction" row shows how far the VAE itself is from the real video);
* cue following, for clips rendered with a coloured gripper (`translate make-data --gripper-colour`): the
  gripper is found by its colour in each frame and its distance to the cue (the gripper pose projected by
  the clip's camera, on the fitted grid) averaged over the frames where it was found; "found" is the share
  of frames where it was. The same detector on the real video ("real_video") gives the floor: the
  distance between the marker's centre and the point between the fingertips the cue marks.

Scores are per clip and overall (the mean over clips), written as JSON and printed as a table.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

MODELS = ("finetuned", "untuned", "vae_reconstruction", "real_video")


def clip_cue(clip: Path, grid) -> tuple | None:
    """(cue track on `grid`, gripper colour) of a `translate make-data` clip with a coloured gripper, else None."""
    from mimicjax.translate.h2rep.camera import read_camera
    from mimicjax.translate.h2rep.cue import cue_from_world_pose
    from mimicjax.translate.h2rep.inputs import read_gripper_poses
    from mimicjax.translate.h2rep.prepare import camera_for_fitted_video
    from mimicjax.video import fit_frame_indices

    meta_file = clip / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    if "gripper_rgb" not in meta:
        return None
    poses = read_gripper_poses(clip / "ee_pose.npz")
    frames = fit_frame_indices(len(poses.position), float(meta["fps"]), grid.frames, grid.fps)
    camera = camera_for_fitted_video(read_camera(clip / "camera.json"), grid.width, grid.height)
    return cue_from_world_pose(poses.position[frames], poses.rotation[frames], camera), meta["gripper_rgb"]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def video_scores(video: np.ndarray, real: np.ndarray, reconstruction: np.ndarray | None, cue) -> dict:
    """The scores of one decoded video against the real one (and the VAE's reconstruction of it)."""
    from mimicjax.translate.h2rep.removal import psnr
    from mimicjax.translate.metrics import cue_following, locate_colour, ssim

    scores = {"psnr": _finite(psnr(video, real)), "ssim": float(ssim(video, real).mean())}
    if reconstruction is not None:
        scores["psnr_vs_vae_reconstruction"] = _finite(psnr(video, reconstruction))
    if cue is not None:
        track, rgb = cue
        scores["cue"] = cue_following(track.pixels, track.visible, locate_colour(video, rgb))
    return scores


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def overall(per_clip: dict[str, dict]) -> dict:
    """Means over the clips of each score (over the clips that have it)."""
    rows = list(per_clip.values())
    out = {name: _mean(r.get(name) for r in rows) for name in ("psnr", "ssim", "psnr_vs_vae_reconstruction")}
    cues = [r["cue"] for r in rows if "cue" in r]
    if cues:
        out["cue"] = {"error_px": _mean(c["error_px"] for c in cues), "found": _mean(c["found"] for c in cues),
                      "clips": len(cues)}
    return {k: v for k, v in out.items() if v is not None}


def held_out_clips(run, dataset: str | Path, show_progress: bool, compiler_options=None):
    """(held-out latent files, the VAE) of the run's split of `dataset`, its latents cached there."""
    from mimicjax.translate.finetune import prepare_data
    from mimicjax.translate.translator import recorded_source

    vae_path = recorded_source(run, "vae", None, "the same VAE")
    _, held_out, vae = prepare_data(run.config, dataset, vae_path, compiler_options, show_progress=show_progress)
    return held_out, vae


def evaluate_run(run_dir: str | Path, dataset: str | Path | None = None, *, sample_config, max_clips: int | None = None,
                 videos_dir: str | Path | None = None, show_progress: bool = True, compiler_options=None) -> dict:
    """Scores of the fine-tuned and the untuned model on the held-out clips (see the module docstring).
    `compiler_options`: XLA options of the transformer and VAE programs."""
    import jax.numpy as jnp

    from mimicjax.train.run_log import progress
    from mimicjax.translate.finetune import LORA_FILE
    from mimicjax.translate.finetune_data import clip_videos, load_pair
    from mimicjax.translate.pipeline import as_batch, decode_latents, translate_latents, with_adapter
    from mimicjax.translate.translator import read_finetune_run, recorded_source, run_base_model, run_prompt_embeddings
    from mimicjax.video import side_by_side, write_video

    run = read_finetune_run(run_dir)
    dataset = dataset or recorded_source(run, "data", None, "--data DATASET")
    if not dataset:
        raise ValueError(f"{run.run_dir} records no dataset; give --data DATASET")
    dataset = Path(dataset)
    base = run_base_model(run, compiler_options=compiler_options)
    models = {"finetuned": with_adapter(base, run.file(LORA_FILE)), "untuned": base}
    prompt, empty = (as_batch(e) for e in run_prompt_embeddings(run))
    negative = empty if sample_config.guidance_scale != 1.0 else None
    held_out, vae = held_out_clips(run, dataset, show_progress, compiler_options)
    held_out = held_out[:max_clips] if max_clips else held_out
    per_clip: dict[str, dict] = {name: {} for name in MODELS}
    for file in progress(held_out, total=len(held_out), desc="translate eval") if show_progress else held_out:
        clip = dataset / file.stem
        pair = {k: jnp.asarray(v[None]) for k, v in load_pair(file).items()}
        real, h2rep = (clip_videos(clip, run.config.data)[k] for k in ("target", "condition"))
        cue = clip_cue(clip, run.grid)
        reconstruction = decode_latents(vae, pair["target"])
        videos = {name: decode_latents(vae, translate_latents(model, pair["condition"], prompt, negative, sample_config))
                  for name, model in models.items()}
        for name, video in videos.items():
            per_clip[name][clip.name] = video_scores(video, real, reconstruction, cue)
        per_clip["vae_reconstruction"][clip.name] = video_scores(reconstruction, real, None, cue)
        if cue is not None:
            per_clip["real_video"][clip.name] = {"cue": video_scores(real, real, None, cue)["cue"]}
        if videos_dir is not None:
            write_video(Path(videos_dir) / f"{clip.name}.mp4",
                        side_by_side(real, h2rep, videos["untuned"], videos["finetuned"]), fps=run.grid.fps)
    return {
        "run_dir": str(run.run_dir), "dataset": str(dataset), "grid": dataclasses.asdict(run.grid),
        "sampler": dataclasses.asdict(sample_config), "clips": [f.stem for f in held_out],
        "videos": "real | H2Rep | untuned | fine-tuned" if videos_dir is not None else None,
        "models": {name: {"overall": overall(rows), "per_clip": rows} for name, rows in per_clip.items() if rows},
    }


def _cell(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(report: dict) -> str:
    """The per-clip and overall scores as a text table."""
    header = f"{'clip':<14} {'model':<19} {'PSNR':>6} {'SSIM':>6} {'PSNR/VAE':>8} {'cue px':>7} {'found':>6}"
    lines = [header, "-" * len(header)]
    clips = report["clips"] + ["overall"]
    for clip in clips:
        for name, scores in report["models"].items():
            row = scores["overall"] if clip == "overall" else scores["per_clip"].get(clip)
            if row is None:
                continue
            cue = row.get("cue", {})
            lines.append(f"{clip:<14} {name:<19} {_cell(row.get('psnr')):>6} {_cell(row.get('ssim'), 3):>6} "
                         f"{_cell(row.get('psnr_vs_vae_reconstruction')):>8} {_cell(cue.get('error_px')):>7} "
                         f"{_cell(cue.get('found')):>6}")
    return "\n".join(lines)


def write_report(report: dict, path: str | Path) -> Path:
    from mimicjax.io_utils import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=1) + "\n")
    return Path(path)
