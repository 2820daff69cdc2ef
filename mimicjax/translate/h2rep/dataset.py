"""A robot-video dataset for H2Rep that the project renders itself, with exact ground truth.

Real robot videos come without the arm's mask, the background behind the arm or a calibrated camera;
rendering our own gives all of them exactly, so arm removal and the gripper cue can be measured against
the truth. Each clip folder holds:

    video.mp4, background.mp4        the scene, and the same scene with the arm (hand) hidden
    masks/00000.png ...              0/255 masks of every pixel showing the arm (hand and forearm)
    ee_pose.npz                      position (T,3), rotation (T,3,3), quaternion (T,4) wxyz,
                                     gripper_opening (T,), fps: the gripper (or its proxy) in the world
    hand_keypoints.npz               human stand-in only: keypoints_3d (T,21,3) in the camera frame,
                                     focal_length (2,), principal_point (2,), is_right
    camera.json                      the fixed camera (`camera.read_camera`)
    frames.npz                       video, background (T,H,W,3) uint8 and masks (T,H,W) bool, lossless
    meta.json                        task, target object, embodiment, seed, index

Clip `index` of a seed has the same objects and task for the robot and for the human stand-in
(`human=True`), so the two kinds pair up.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

import mujoco
import numpy as np

from mimicjax.io_utils import atomic_dir, atomic_path
from mimicjax.translate.h2rep import scene as scene_lib
from mimicjax.translate.h2rep.camera import Camera, write_camera
from mimicjax.translate.h2rep.raycast import Raycaster
from mimicjax.video import write_video


def make_dataset(
    out_dir,
    videos: int,
    *,
    width: int = 320,
    height: int = 240,
    frames: int = 33,
    fps: float = 10,
    seed: int = 0,
    human: bool = False,
    progress: bool = True,
    supersample: int = 2,
    gripper_rgb: tuple[float, float, float] | None = None,
) -> list[Path]:
    """Render `videos` clips into `out_dir` (robot clips `<task>_<index>`, or with `human` the human
    stand-in clips `human_<task>_<index>`) and return their folders. Existing clips are replaced.

    `gripper_rgb` colours the robot's gripper (palm and fingers; `meta.json` records it as
    "gripper_rgb") so that it can be found by colour (`translate eval`); the human stand-in has none."""
    _check_positive_int("videos", videos)
    _check_positive_int("width", width)
    _check_positive_int("height", height)
    _check_positive_int("supersample", supersample)
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 2:
        raise ValueError(f"frames must be an integer >= 2, got {frames!r}")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    out_dir = Path(out_dir)
    camera = scene_lib.dataset_camera(int(width), int(height))
    embodiment = "human" if human else "robot"
    indices = range(int(videos))
    if progress:
        from mimicjax.train.run_log import progress as progress_bar

        indices = progress_bar(indices, total=int(videos), desc=f"h2rep {embodiment} clips")
    clips = []
    for index in indices:
        episode = scene_lib.make_episode(seed, index, int(frames), embodiment)
        painted = gripper_rgb if embodiment == "robot" else None
        if painted is not None:
            scene_lib.paint_gripper(episode.scene, painted)
        video, background, masks = render_episode(episode, camera, supersample=int(supersample))
        folder = out_dir / episode.name
        write_clip(folder, episode, camera, video, background, masks, fps=float(fps), seed=int(seed), index=index,
                   gripper_rgb=painted)
        clips.append(folder)
    return clips


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def render_episode(episode: scene_lib.Episode, camera: Camera, *, supersample: int = 2):
    """(video (T,H,W,3) uint8, background (T,H,W,3) uint8, masks (T,H,W) bool) of an episode.

    The background is traced only where the mask is set and copied elsewhere: with no shadows or
    reflections, hiding the arm cannot change any other pixel, so this equals a full re-render.
    """
    model = episode.scene.model
    data = mujoco.MjData(model)
    caster = Raycaster(camera, supersample, checker=episode.scene.checker)
    hidden = episode.scene.embodiment_geoms
    video, background, masks = [], [], []
    for qpos in episode.qpos:
        scene_lib.set_frame(model, data, qpos)
        shot = caster.render(model, data)
        mask = shot.covers(hidden)
        behind = shot.image.copy()
        if mask.any():
            behind[mask] = caster.render(model, data, hidden=hidden, pixels=mask).image[mask]
        video.append(shot.image)
        background.append(behind)
        masks.append(mask)
    return np.stack(video), np.stack(background), np.stack(masks)


def write_clip(folder, episode, camera: Camera, video, background, masks, *, fps: float, seed: int, index: int,
               gripper_rgb=None) -> Path:
    """Write one clip's folder atomically: a crash leaves the previous clip (or none), never a mix."""
    with atomic_dir(folder, overwrite=True) as tmp:
        _write_clip_files(Path(tmp), episode, camera, video, background, masks, fps=fps, seed=seed, index=index,
                          gripper_rgb=gripper_rgb)
    return Path(folder)


def _write_clip_files(folder: Path, episode, camera: Camera, video, background, masks, *, fps: float, seed: int, index: int,
                      gripper_rgb=None) -> None:
    import imageio.v3 as iio
    from scipy.spatial.transform import Rotation

    write_video(folder / "video.mp4", video, fps, best_quality=True)
    write_video(folder / "background.mp4", background, fps, best_quality=True)
    (folder / "masks").mkdir()
    for t, mask in enumerate(masks):
        iio.imwrite(folder / "masks" / f"{t:05d}.png", mask.astype(np.uint8) * 255)
    quaternion = Rotation.from_matrix(episode.ee_rotation).as_quat(scalar_first=True)
    _savez(
        folder / "ee_pose.npz",
        position=episode.ee_position.astype(np.float64),
        rotation=episode.ee_rotation.astype(np.float64),
        quaternion=quaternion,
        gripper_opening=episode.gripper_opening.astype(np.float64),
        fps=np.float64(fps),
    )
    if episode.keypoints is not None:
        k = camera.intrinsics
        _savez(
            folder / "hand_keypoints.npz",
            keypoints_3d=camera.to_camera(episode.keypoints),
            focal_length=np.array([k[0, 0], k[1, 1]]),
            principal_point=np.array([k[0, 2], k[1, 2]]),
            is_right=np.bool_(True),
        )
    write_camera(folder / "camera.json", camera)
    _savez(folder / "frames.npz", video=video, background=background, masks=masks.astype(bool))
    meta = {
        "task": episode.task,
        "target_object": episode.target,
        "embodiment": episode.scene.embodiment,
        "seed": seed,
        "index": index,
        "frames": len(video),
        "fps": fps,
    }
    if gripper_rgb is not None:
        meta["gripper_rgb"] = [float(v) for v in gripper_rgb]
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def _savez(path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
