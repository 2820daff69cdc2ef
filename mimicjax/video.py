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


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """(uint8 frames [T, H, W, 3], fps) of a video file."""
    import imageio.v2 as imageio

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no video at {path}")
    frames = []
    try:
        reader = imageio.get_reader(path)
        try:
            fps = float(reader.get_meta_data().get("fps", 16.0))
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
