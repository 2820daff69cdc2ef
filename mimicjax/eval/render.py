"""Videos of evaluation episodes: the simulated G1 at every control step, its goal keypoints as spheres.

Rendering uses `mimicjax.motion.render.render_frames` (MuJoCo's offscreen renderer); call
`mimicjax.motion.render.choose_gl_backend()` before anything imports mujoco. `gl_unavailable()` says
why no frame can be rendered (no OpenGL backend), so a caller can skip the video with that reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def gl_unavailable(variant: str = "23dof") -> str | None:
    """None when an offscreen OpenGL context works; otherwise the reason it does not."""
    try:
        import mujoco

        from mimicjax.robots import g1

        with mujoco.Renderer(g1.load_model(variant), height=8, width=8):
            pass
    except Exception as error:  # GLFW/EGL/OSMesa failures come as several exception types
        return f"{type(error).__name__}: {error}".strip()
    return None


def episode_frames(record: dict, episode: int) -> tuple[np.ndarray, np.ndarray]:
    """(qpos [S, nq], times [S]) of the first episode of env `episode` in an evaluation record."""
    from mimicjax.eval.metrics import episode_mask

    done = (np.asarray(record["terminated"]) > 0) | (np.asarray(record["truncated"]) > 0)
    steps = int(episode_mask(done)[:, episode].sum())
    return np.asarray(record["qpos"][:steps, episode]), np.asarray(record["time"][:steps, episode])


def goal_keypoints(library, clip: int, times) -> np.ndarray:
    """[S, K, 3] world keypoints of `clip` at `times` seconds (what the policy's goals are made of)."""
    import jax.numpy as jnp

    from mimicjax.motion import library as motion_lib

    times = jnp.asarray(times, jnp.float32)
    frame = motion_lib.sample(library, jnp.full(times.shape, clip, jnp.int32), times)
    return np.asarray(frame.keypoint_pos, np.float64)


def write_episode_video(
    out: str | Path,
    variant: str,
    qpos: np.ndarray,
    keypoints: np.ndarray,
    fps: float,
    width: int = 640,
    height: int = 480,
    progress: bool = False,
) -> int:
    """Render qpos [S, nq] with goal keypoints [S, K, 3] into an H.264 mp4, atomically. Returns the frame count."""
    import imageio.v2 as imageio

    from mimicjax.io_utils import atomic_path
    from mimicjax.motion.render import render_frames

    qpos = np.asarray(qpos, np.float64)
    if qpos.ndim != 2 or qpos.shape[0] == 0 or len(keypoints) != len(qpos):
        raise ValueError(f"an episode video needs qpos [S, nq] and keypoints [S, K, 3] with S > 0, got "
                         f"{qpos.shape} and {np.shape(keypoints)}")
    count = 0
    with atomic_path(out) as tmp, warnings.catch_warnings():
        # ffmpeg runs as a subprocess (fork + exec at once), which is safe next to JAX's threads.
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        writer = imageio.get_writer(str(tmp), fps=fps, codec="libx264", macro_block_size=1, quality=7)
        try:
            frames = render_frames(variant, qpos[:, :3], qpos[:, 3:7], qpos[:, 7:], keypoints, width, height,
                                   progress=progress)
            for frame in frames:
                writer.append_data(frame)
                count += 1
        finally:
            writer.close()
    return count


__all__ = ["episode_frames", "gl_unavailable", "goal_keypoints", "write_episode_video"]
