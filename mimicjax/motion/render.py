"""Offscreen videos of library clips: the robot posed per frame, goal keypoints as small spheres.

MuJoCo chooses its OpenGL backend when it is first imported, from MUJOCO_GL; importing mimicjax sets
it (see `choose_gl_backend`) when the user has not.
"""

from __future__ import annotations

import warnings

import numpy as np

from mimicjax import robots
from mimicjax._runtime_env import choose_gl_backend

KEYPOINT_RGBA = (0.95, 0.15, 0.15, 0.9)
KEYPOINT_RADIUS = 0.03
ROBOT_ALPHA = 0.55


def _add_spheres(scene, positions, radius: float, rgba) -> None:
    import mujoco

    for point in positions:
        if scene.ngeom >= scene.maxgeom:
            return
        mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.array([radius, 0.0, 0.0]),
                            np.asarray(point, np.float64), np.eye(3).reshape(-1), np.asarray(rgba, np.float32))
        scene.ngeom += 1


def render_frames(robot, root_pos, root_quat, joint_pos, keypoints=None, width: int = 640, height: int = 480,
                  distance: float = 3.0, azimuth: float = 135.0, elevation: float = -15.0, progress: bool = False):
    """Yield RGB frames (height, width, 3) uint8 of the robot in each pose; the camera follows its root."""
    import mujoco


    model = robot.load_model()
    if keypoints is not None:
        model.geom_rgba[model.geom_bodyid > 0, 3] = ROBOT_ALPHA  # see the goal spheres through the limbs
    model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
    model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
    data = mujoco.MjData(model)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.distance, camera.azimuth, camera.elevation = distance, azimuth, elevation
    frames = range(len(root_pos))
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc="rendering", unit="frame")
    with mujoco.Renderer(model, height=height, width=width) as renderer:
        for t in frames:
            data.qpos[:] = np.concatenate([root_pos[t], root_quat[t], joint_pos[t]])
            mujoco.mj_kinematics(model, data)
            camera.lookat[:] = [data.qpos[0], data.qpos[1], max(0.5, float(data.qpos[2]) - 0.1)]
            renderer.update_scene(data, camera=camera)
            if keypoints is not None:
                _add_spheres(renderer.scene, keypoints[t], KEYPOINT_RADIUS, KEYPOINT_RGBA)
            yield renderer.render().copy()


def render_clip(lib, index: int, out, width: int = 640, height: int = 480, progress: bool = False) -> int:
    """Write clip `index` of a `MotionLibrary` as an mp4 at the clip's fps, atomically. Returns the frame count."""
    import imageio.v2 as imageio

    from mimicjax.io_utils import atomic_path
    from mimicjax.motion.library import clip_motion

    motion = clip_motion(lib, index)
    start = int(lib.clip_start[index])
    keypoints = np.asarray(lib.keypoint_pos[start : start + motion.num_frames], np.float64)
    count = 0
    with atomic_path(out) as tmp, warnings.catch_warnings():
        # ffmpeg runs as a subprocess (fork + exec at once), which is safe next to JAX's threads.
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        writer = imageio.get_writer(str(tmp), fps=motion.fps, codec="libx264", macro_block_size=1, quality=7)
        try:
            for frame in render_frames(robots.get(lib.meta.robot), motion.root_pos, motion.root_quat, motion.joint_pos, keypoints,
                                       width, height, progress=progress):
                writer.append_data(frame)
                count += 1
        finally:
            writer.close()
    return count


__all__ = ["choose_gl_backend", "render_clip", "render_frames"]
