"""Reading and writing videos (imageio + ffmpeg), without JAX: shared by translation, H2Rep and sim2sim."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: np.ndarray, fps: float = 16.0, *, best_quality: bool = False) -> Path:
    """Write uint8 frames as mp4/gif atomically.

    best_quality: H.264 at imageio's highest quality (for data that is measured later); odd frame sizes
    then keep full chroma (4:4:4), which 4:2:0 cannot hold.
    """
    import imageio.v2 as imageio

    from mimicjax.io_utils import atomic_path

    path = Path(path)
    frames = np.asarray(frames, np.uint8)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            imageio.mimsave(tmp, list(frames), duration=1.0 / fps)
        elif best_quality:
            even = frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
            imageio.mimsave(tmp, list(frames), format="FFMPEG", fps=fps, codec="libx264", quality=10, macro_block_size=1,
                            pixelformat="yuv420p" if even else "yuv444p", ffmpeg_log_level="error")
        else:
            imageio.mimsave(tmp, list(frames), fps=fps, macro_block_size=1)
    return path


def read_video(path: str | Path, max_frames: int | None = None, max_seconds: float | None = None) -> tuple[np.ndarray, float]:
    """(uint8 frames [T, H, W, 3], fps) of a video file: its first `max_frames` frames, or those of its first
    `max_seconds`, where given."""
    import imageio.v2 as imageio

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no video at {path}")
    frames = []
    try:
        reader = imageio.get_reader(path)
        try:
            fps = float(reader.get_meta_data().get("fps", 16.0))
            if max_seconds is not None:
                by_time = int(np.ceil(max_seconds * fps - 1e-9))
                max_frames = by_time if max_frames is None else min(max_frames, by_time)
            for frame in reader:
                frame = np.asarray(frame)
                frames.append(np.repeat(frame[..., None], 3, axis=-1) if frame.ndim == 2 else frame[..., :3])
                if max_frames is not None and len(frames) >= max_frames:
                    break
        finally:
            reader.close()
    except Exception as error:  # imageio and its plugins raise many types for files that are not videos
        raise ValueError(f"{path}: not a readable video ({type(error).__name__}: {str(error).splitlines()[0][:160]}); "
                         f"give an mp4, gif or another format imageio reads") from None
    if not frames:
        raise ValueError(f"{path}: no frames could be read")
    return np.stack(frames), fps


def fit_frame_indices(count: int, fps: float, num_frames: int, target_fps: float) -> np.ndarray:
    """Which of `count` frames at `fps` make `num_frames` frames at `target_fps`: output frame i shows the
    source frame nearest to i / target_fps (from the first frame). Raises ValueError when too few."""
    if not (fps > 0 and target_fps > 0) or num_frames < 1:
        raise ValueError(f"fps ({fps}, {target_fps}) and frame count ({num_frames}) must be positive")
    source = np.floor(np.arange(num_frames) * (fps / target_fps) + 0.5).astype(int)
    if source[-1] >= count:
        raise ValueError(f"{num_frames} frames at {target_fps:g} fps need {source[-1] + 1} frames at {fps:g} fps; "
                         f"the video has {count}")
    return source


def fit_frame_count(count: int, fps: float, target_fps: float) -> int:
    """The most frames at `target_fps` that `count` frames at `fps` give (see `fit_frame_indices`)."""
    frames = int(np.floor((count - 0.5) * target_fps / fps)) + 1
    while frames > 1 and np.floor((frames - 1) * (fps / target_fps) + 0.5) >= count:  # rounding at the edge
        frames -= 1
    return frames


def fit_layout(width_in: int, height_in: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(scaled width, scaled height, left, top): a `width_in` x `height_in` frame is scaled to cover
    `width` x `height` with its aspect ratio kept, then cropped at (left, top) to that size."""
    if min(width, height) < 1:
        raise ValueError(f"size ({width}x{height}) must be positive")
    scale = max(width / width_in, height / height_in)
    scaled_w, scaled_h = max(width, round(width_in * scale)), max(height, round(height_in * scale))
    return scaled_w, scaled_h, (scaled_w - width) // 2, (scaled_h - height) // 2


def fit_video(frames: np.ndarray, fps: float, *, width: int, height: int, num_frames: int, target_fps: float) -> np.ndarray:
    """uint8 [T, H, W, 3] at `fps` -> [num_frames, height, width, 3] at `target_fps`.

    Time: `fit_frame_indices`. Space: each frame is scaled to cover width x height (area filter when
    shrinking) and centre-cropped, so the aspect ratio is kept (`fit_layout`). Raises ValueError when the
    video is shorter than num_frames / target_fps.
    """
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected video frames [T, H, W, 3], got shape {frames.shape}")
    source = fit_frame_indices(len(frames), fps, num_frames, target_fps)
    h, w = frames.shape[1:3]
    scaled_w, scaled_h, left, top = fit_layout(w, h, width, height)
    interpolation = cv2.INTER_AREA if max(width / w, height / h) < 1 else cv2.INTER_LINEAR
    out = [cv2.resize(frames[i], (scaled_w, scaled_h), interpolation=interpolation)[top:top + height, left:left + width]
           for i in source]
    return np.stack(out).astype(np.uint8)


def side_by_side(*videos: np.ndarray) -> np.ndarray:
    """uint8 videos [T, H, W_i, 3] of equal length and height, next to each other left to right."""
    shapes = [np.shape(v) for v in videos]
    if len({(s[0], s[1]) for s in shapes}) != 1:
        raise ValueError(f"side by side needs videos of one length and height, got shapes {shapes}")
    return np.concatenate([np.asarray(v, np.uint8) for v in videos], axis=2)
