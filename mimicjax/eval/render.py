"""Videos of evaluation episodes: the simulated robot at every control step, the reference motion as a
translucent "ghost" robot, and the goal keypoints as spheres.

Rendering uses MuJoCo's offscreen renderer (as `mimicjax.motion.render.render_frames` does); call
`mimicjax.motion.render.choose_gl_backend()` before anything imports mujoco. `gl_unavailable()` says
why no frame can be rendered (no OpenGL backend), so a caller can skip the video with that reason.

The ghost is a second copy of the robot's geoms, posed at the reference qpos and added to the scene with
`mujoco.mjv_addGeoms`, recoloured `GHOST_RGBA` (translucent green); it overlays the simulated robot, so
any distance between the two is tracking error. The camera follows the midpoint of the two pelvises and
backs away as they separate (up to `MAX_EXTRA_DISTANCE`), so both stay in view when the robot falls.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

GHOST_RGBA = (0.2, 0.85, 0.35, 0.35)  # translucent green (the robot itself is grey, blue and orange)

MAX_EXTRA_DISTANCE = 5.0  # m the camera backs away at most as robot and ghost separate

_GL_REASON: dict[str, str | None] = {}


def gl_unavailable() -> str | None:
    """None when an offscreen OpenGL context works; otherwise the reason it does not.

    Checked once per process: after a failed attempt MuJoCo's GL setup can abort the process on the next
    one (seen with GLFW and no display), so the first answer is kept.
    """
    if "reason" not in _GL_REASON:
        try:
            import mujoco

            with mujoco.Renderer(mujoco.MjModel.from_xml_string("<mujoco/>"), height=8, width=8):
                pass
            reason = None
        except Exception as error:  # GLFW/EGL/OSMesa failures come as several exception types
            reason = f"{type(error).__name__}: {error}".strip()
        _GL_REASON["reason"] = reason
    return _GL_REASON["reason"]


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


def reference_qpos(library, clip: int, times) -> np.ndarray:
    """[S, nq] MuJoCo qpos of the reference motion of `clip` at `times` seconds (the ghost's pose)."""
    import jax.numpy as jnp

    from mimicjax.envs.observations import reference_qpos_qvel
    from mimicjax.motion import library as motion_lib

    times = jnp.asarray(times, jnp.float32)
    frame = motion_lib.sample(library, jnp.full(times.shape, clip, jnp.int32), times)
    return np.asarray(reference_qpos_qvel(frame)[0], np.float64)


@dataclasses.dataclass
class Segment:
    """One episode of a video: qpos [S, nq], the ghost's qpos [S, nq] (or None), keypoints [S, K, 3] (or None)."""

    qpos: np.ndarray
    ghost_qpos: np.ndarray | None = None
    keypoints: np.ndarray | None = None

    def __post_init__(self):
        self.qpos = np.asarray(self.qpos, np.float64)
        count = len(self.qpos)
        if self.qpos.ndim != 2 or count == 0:
            raise ValueError(f"an episode video needs qpos [S, nq] with S > 0, got {self.qpos.shape}")
        for name in ("ghost_qpos", "keypoints"):
            value = getattr(self, name)
            if value is not None and len(value) != count:
                raise ValueError(f"{name} has {len(value)} frames but qpos has {count}")


def render_episode_frames(robot, segments, width: int = 640, height: int = 480, distance: float = 3.0,
                          azimuth: float = 135.0, elevation: float = -15.0, ghost_rgba=GHOST_RGBA,
                          progress: bool = False):
    """Yield RGB frames (height, width, 3) uint8 of every `Segment` in turn: the robot at `qpos`, its ghost
    at `ghost_qpos` (translucent `ghost_rgba`), the keypoints as red spheres."""
    import mujoco

    from mimicjax.motion.render import KEYPOINT_RADIUS, KEYPOINT_RGBA, ROBOT_ALPHA, _add_spheres

    segments = list(segments)
    model = robot.load_model()
    if any(s.keypoints is not None for s in segments):
        model.geom_rgba[model.geom_bodyid > 0, 3] = ROBOT_ALPHA  # see the goal spheres through the limbs
    model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
    model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
    data, ghost = mujoco.MjData(model), mujoco.MjData(model)
    option, perturb = mujoco.MjvOption(), mujoco.MjvPerturb()
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.azimuth, camera.elevation = azimuth, elevation
    rgba = np.asarray(ghost_rgba, np.float32)
    frames = [(segment, t) for segment in segments for t in range(len(segment.qpos))]
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc="rendering", unit="frame")
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        for segment, t in frames:
            data.qpos[:] = segment.qpos[t]
            mujoco.mj_kinematics(model, data)
            center, spread = np.array(data.qpos[:3]), 0.0
            if segment.ghost_qpos is not None:
                ghost.qpos[:] = segment.ghost_qpos[t]
                mujoco.mj_kinematics(model, ghost)
                center = 0.5 * (center + ghost.qpos[:3])
                spread = float(np.linalg.norm(data.qpos[:2] - ghost.qpos[:2]))
            camera.lookat[:] = [center[0], center[1], max(0.5, float(center[2]) - 0.1)]
            camera.distance = distance + min(spread, MAX_EXTRA_DISTANCE)
            renderer.update_scene(data, camera=camera)
            scene = renderer.scene
            if segment.ghost_qpos is not None:
                first = scene.ngeom
                mujoco.mjv_addGeoms(model, ghost, option, perturb, int(mujoco.mjtCatBit.mjCAT_DYNAMIC), scene)
                for i in range(first, scene.ngeom):
                    scene.geoms[i].rgba[:] = rgba
            if segment.keypoints is not None:
                _add_spheres(scene, segment.keypoints[t], KEYPOINT_RADIUS, KEYPOINT_RGBA)
            yield renderer.render().copy()


def write_video(out: str | Path, robot, segments, fps: float, width: int = 640, height: int = 480,
                progress: bool = False) -> int:
    """Render `Segment`s one after another into one H.264 mp4, atomically. Returns the frame count."""
    import imageio.v2 as imageio

    from mimicjax.io_utils import atomic_path

    segments = list(segments)
    if not segments:
        raise ValueError("a video needs at least one episode")
    count = 0
    with atomic_path(out) as tmp, warnings.catch_warnings():
        # ffmpeg runs as a subprocess (fork + exec at once), which is safe next to JAX's threads.
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        writer = imageio.get_writer(str(tmp), fps=fps, codec="libx264", macro_block_size=1, quality=7)
        try:
            for frame in render_episode_frames(robot, segments, width, height, progress=progress):
                writer.append_data(frame)
                count += 1
        finally:
            writer.close()
    return count


def write_episode_video(
    out: str | Path,
    robot,
    qpos: np.ndarray,
    keypoints: np.ndarray,
    fps: float,
    width: int = 640,
    height: int = 480,
    progress: bool = False,
    ghost_qpos: np.ndarray | None = None,
) -> int:
    """Render qpos [S, nq] with goal keypoints [S, K, 3] (and the ghost at `ghost_qpos` [S, nq]) into an
    H.264 mp4, atomically. Returns the frame count."""
    if np.ndim(qpos) != 2 or len(qpos) == 0 or len(keypoints) != len(qpos):
        raise ValueError(f"an episode video needs qpos [S, nq] and keypoints [S, K, 3] with S > 0, got "
                         f"{np.shape(qpos)} and {np.shape(keypoints)}")
    return write_video(out, robot, [Segment(qpos, ghost_qpos, keypoints)], fps, width, height, progress)


__all__ = [
    "GHOST_RGBA", "Segment", "episode_frames", "gl_unavailable", "goal_keypoints", "reference_qpos",
    "render_episode_frames", "write_episode_video", "write_video",
]
