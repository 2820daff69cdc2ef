"""A robot or human video to its H2Rep: the embodiment removed, the gripper cue drawn.

Robot: video + arm masks (or an already-inpainted video) + gripper poses + camera. Human: video +
person masks (or an inpainted video) + hand keypoints (+ camera for 3-D keypoints when the file does
not carry one). Both end in the same `cue.draw_cues`, so the two domains look alike.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from mimicjax.translate.h2rep import cue as cue_lib
from mimicjax.translate.h2rep.camera import Camera, read_camera
from mimicjax.translate.h2rep.inputs import read_frames, read_gripper_poses, read_hand_keypoints, read_masks
from mimicjax.translate.h2rep.removal import remove


@dataclasses.dataclass(frozen=True)
class Prepared:
    frames: np.ndarray  # (T, H, W, 3) uint8 H2Rep video
    track: cue_lib.CueTrack
    fps: float
    seconds: dict  # time spent per stage


def camera_for_video(camera: Camera, width: int, height: int, source: str = "camera") -> Camera:
    """`camera` for a video of `width` x `height`: the same if sizes match, the intrinsics scaled if the
    video is a proportionally resized copy; otherwise an error."""
    if (camera.width, camera.height) == (width, height):
        return camera
    sx, sy = width / camera.width, height / camera.height
    if abs(sx - sy) > 0.01 * max(sx, sy):
        raise ValueError(f"{source}: calibrated for {camera.width}x{camera.height}, the video is {width}x{height} "
                         "(a different aspect ratio); give the camera of this video")
    return _resized_camera(camera, sx, sy, width, height)


def _resized_camera(camera: Camera, sx: float, sy: float, width: int, height: int, left: int = 0, top: int = 0) -> Camera:
    """`camera` for its image scaled by (sx, sy), then cropped to `width` x `height` at (left, top)."""
    k = camera.intrinsics.copy()
    # Pixel centres at integers: x' + 0.5 = s (x + 0.5).
    k[0, 0], k[1, 1] = k[0, 0] * sx, k[1, 1] * sy
    k[0, 2], k[1, 2] = (k[0, 2] + 0.5) * sx - 0.5 - left, (k[1, 2] + 0.5) * sy - 0.5 - top
    return Camera(width, height, k, camera.world_to_camera)


def camera_for_fitted_video(camera: Camera, width: int, height: int) -> Camera:
    """`camera` for its video after `mimicjax.video.fit_video` to `width` x `height` (scaled to cover,
    centre-cropped)."""
    from mimicjax.video import fit_layout

    scaled_w, scaled_h, left, top = fit_layout(camera.width, camera.height, width, height)
    return _resized_camera(camera, scaled_w / camera.width, scaled_h / camera.height, width, height, left, top)


def _check_frames(count: int, expected: int, what: str, path) -> None:
    if count != expected:
        raise ValueError(f"{path}: {count} {what} for {expected} video frames; give one per frame")


def _background(video_path, masks_path, removed_path, *, max_frames, dilate, align, window, mask_ids, fps=None):
    """(frames with the embodiment removed, fps, seconds of removal)."""
    frames, video_fps = read_frames(video_path, max_frames=max_frames)
    fps = fps or video_fps
    if fps is None:
        raise ValueError(f"{video_path}: a folder of frames has no frame rate; give it (--fps)")
    t, h, w, _ = frames.shape
    start = time.perf_counter()
    if removed_path is not None:  # an external remover's output, used as is
        removed, _ = read_frames(removed_path, max_frames=max_frames)
        if removed.shape != frames.shape:
            raise ValueError(f"{removed_path}: the inpainted video is {removed.shape[2]}x{removed.shape[1]} x "
                             f"{removed.shape[0]} frames, the video {w}x{h} x {t}")
        return removed, fps, 0.0
    if masks_path is None:
        raise ValueError("give the masks of what to remove (--masks) or an inpainted video (--removed)")
    masks = read_masks(masks_path, t, h, w, ids=mask_ids)
    result = remove(frames, masks, dilate=dilate, align=align, window=window)
    return result.frames, fps, time.perf_counter() - start


def prepare_robot(
    video, poses, camera, *, masks=None, removed=None, max_frames=None, dilate=0, align=False, window=32,
    mask_ids=None, approach_axis: int = 2, fps: float | None = None,
) -> Prepared:
    """H2Rep of a robot video; `poses` in the camera file's world (robot base) frame."""
    background, fps, removal_s = _background(video, masks, removed, max_frames=max_frames, dilate=dilate, align=align,
                                             window=window, mask_ids=mask_ids, fps=fps)
    t, h, w, _ = background.shape
    gripper = read_gripper_poses(poses)
    if max_frames is not None:
        gripper = dataclasses.replace(gripper, position=gripper.position[:max_frames], rotation=gripper.rotation[:max_frames])
    _check_frames(len(gripper.position), t, "gripper poses", poses)
    cam = camera_for_video(read_camera(camera), w, h, str(camera))
    start = time.perf_counter()
    track = cue_lib.cue_from_world_pose(gripper.position, gripper.rotation, cam, approach_axis)
    drawn = cue_lib.draw_cues(background, track)
    return Prepared(drawn, track, fps, {"removal": removal_s, "cue": time.perf_counter() - start})


def hand_track(hands, width: int, height: int, camera: Camera | None) -> cue_lib.CueTrack:
    """The cue of hand keypoints: camera-frame points through a camera, image points as they are."""
    position, approach = cue_lib.gripper_from_hand(hands.points)
    if hands.space == "image":
        return cue_lib.cue_from_image_points(position[:, :2], approach, width, height)
    if camera is not None:
        intrinsics = camera.intrinsics
    elif hands.focal_length is not None:
        principal = hands.principal_point if hands.principal_point is not None else np.array([(width - 1) / 2, (height - 1) / 2])
        intrinsics = np.array([[hands.focal_length[0], 0, principal[0]], [0, hands.focal_length[1], principal[1]], [0, 0, 1]])
    else:
        raise ValueError("3-D hand keypoints need the camera: give --camera, or keep focal_length in the keypoint file")
    return cue_lib.cue_from_camera(position, approach, intrinsics, width, height)


def prepare_human(
    video, hands, *, masks=None, removed=None, camera=None, missing: cue_lib.MissingPolicy = "hold", max_hold=None,
    max_frames=None, dilate=0, align=False, window=32, mask_ids=None, fps: float | None = None,
) -> Prepared:
    """H2Rep of a human video; frames without a hand follow `missing` ("hold" or "hide")."""
    if missing not in ("hold", "hide"):
        raise ValueError(f"--missing must be 'hold' or 'hide', got {missing!r}")
    background, fps, removal_s = _background(video, masks, removed, max_frames=max_frames, dilate=dilate, align=align,
                                             window=window, mask_ids=mask_ids, fps=fps)
    t, h, w, _ = background.shape
    keypoints = read_hand_keypoints(hands, w, h)
    if max_frames is not None:
        keypoints = dataclasses.replace(keypoints, points=keypoints.points[:max_frames])
    _check_frames(len(keypoints.points), t, "hand keypoint frames", hands)
    cam = None if camera is None else camera_for_video(read_camera(camera), w, h, str(camera))
    start = time.perf_counter()
    track = cue_lib.fill_missing(hand_track(keypoints, w, h, cam), missing, max_hold)
    drawn = cue_lib.draw_cues(background, track)
    return Prepared(drawn, track, fps, {"removal": removal_s, "cue": time.perf_counter() - start})


def clip_kind(folder: Path) -> str | None:
    """"human" (hand keypoints), "robot" (gripper poses) or None for a dataset clip folder."""
    if (folder / "hand_keypoints.npz").is_file():
        return "human"
    if (folder / "ee_pose.npz").is_file():
        return "robot"
    return None


def clip_masks(folder: Path) -> Path:
    for name in ("masks", "mask.mp4", "masks.npz"):
        if (folder / name).exists():
            return folder / name
    raise ValueError(f"{folder}: no masks/, mask.mp4 or masks.npz")


def prepare_dataset(dataset: str | Path, kind: str, *, out_name: str = "h2rep.mp4", dilate=0, align=False, window=32) -> list[Path]:
    """H2Rep of every `kind` ("robot" or "human") clip folder of a dataset (`translate make-data` layout):
    writes `<clip>/h2rep.mp4` beside `video.mp4`, the training pair (condition, target)."""
    from mimicjax.train.run_log import progress as progress_bar
    from mimicjax.video import write_video

    dataset = Path(dataset)
    if not dataset.is_dir():
        raise FileNotFoundError(f"no dataset folder at {dataset}")
    clips = sorted(p for p in dataset.iterdir() if p.is_dir() and clip_kind(p) == kind)
    if not clips:
        needs = "ee_pose.npz (and no hand_keypoints.npz)" if kind == "robot" else "hand_keypoints.npz"
        raise ValueError(f"{dataset}: no {kind} clip folders (each needs video.mp4, masks and {needs})")
    written = []
    bar = progress_bar(total=len(clips), desc="h2rep")
    for clip in clips:
        common = {"masks": clip_masks(clip), "dilate": dilate, "align": align, "window": window}
        if kind == "robot":
            prepared = prepare_robot(clip / "video.mp4", clip / "ee_pose.npz", clip / "camera.json", **common)
        else:
            camera = clip / "camera.json" if (clip / "camera.json").is_file() else None
            prepared = prepare_human(clip / "video.mp4", clip / "hand_keypoints.npz", camera=camera, **common)
        written.append(write_video(clip / out_name, prepared.frames, fps=prepared.fps))
        bar.update(1)
    bar.close()
    return written
