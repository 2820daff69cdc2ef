"""Read what people have: videos, masks from segmentation tools, gripper poses, hand keypoints.

Masks (`read_masks`), anything non-zero is removed unless `ids` picks object ids:
* a folder of PNGs, one per frame in name order (SAM2's `vos_inference.py` writes palette PNGs whose
  values are object ids; binary 0/255 PNGs work too), or of per-object subfolders of PNGs (SAM2's
  `--per_obj_png_file`), merged;
* a folder of `.npy` arrays, one per frame (Grounded-SAM2's `mask_data/mask_*.npy`, object ids);
* a mask video (grey > 127 is masked);
* an `.npz` / `.npy` of a (T, H, W) array (booleans or ids; the npz's only array or its `masks` entry).

Gripper poses (`read_gripper_poses`), an `.npz` (or `.json` object of lists) with `position` (T, 3) and
one of `quaternion` (T, 4, w x y z), `quaternion_xyzw`, `rotation` (T, 3, 3), or DROID's
`cartesian_position` (T, 6: x y z and extrinsic roll pitch yaw, as DROID's `robot_state` stores it).

Hand keypoints (`read_hand_keypoints`), 21 per frame in the MANO / OpenPose order; frames where no hand
was found are NaN (or `null` in JSON):
* HaMeR / WiLoR, 3-D in the camera frame: `keypoints_3d` (T, 21, 3), or the models' raw outputs
  `pred_keypoints_3d` (T, 21, 3) + `pred_cam_t_full` (T, 3); optional `focal_length` /
  `scaled_focal_length` and `principal_point` (the camera, when no camera file is given);
* MediaPipe Hands, image coordinates: `landmarks` (T, 21, 3) normalised x, y in [0, 1] and relative
  depth z (MediaPipe's scale: about that of x), from an npz or a JSON list with one entry per frame
  (a list of 21 `{"x":, "y":, "z":}` or `[x, y, z]`, or null).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_frames(path: str | Path, max_frames: int | None = None) -> tuple[np.ndarray, float | None]:
    """(uint8 frames [T, H, W, 3], fps or None) of a video file or a folder of images (name order)."""
    import imageio.v2 as imageio

    from mimicjax.translate.video import read_video

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no video or frame folder at {path}")
    if not path.is_dir():
        return read_video(path, max_frames=max_frames)
    files = _images_in(path)[:max_frames]
    if not files:
        raise ValueError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in the frame folder")
    frames = []
    for file in files:
        image = np.asarray(imageio.imread(file))
        image = np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]
        if frames and image.shape != frames[0].shape:
            raise ValueError(f"{file}: frame size {image.shape[1]}x{image.shape[0]} differs from the first frame's "
                             f"{frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(image.astype(np.uint8))
    return np.stack(frames), None


def _select(array: np.ndarray, ids) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4):  # an RGB(A) rendering of a mask
        array = array[..., :3].max(axis=-1)
    if ids is None:
        return array > 0
    return np.isin(array, list(ids))


def _mask_stack(path: Path, ids) -> np.ndarray:
    if path.is_dir():
        subfolders = sorted(p for p in path.iterdir() if p.is_dir() and _images_in(p))
        if subfolders and not _images_in(path):  # one folder per object
            chosen = [p for p in subfolders if ids is None or (p.name.isdigit() and int(p.name) in set(ids))]
            if not chosen:
                raise ValueError(f"{path}: no object folder among {[p.name for p in subfolders]} matches ids {list(ids)}")
            stacks = [_mask_stack(p, None) for p in chosen]
            if len({s.shape for s in stacks}) != 1:
                raise ValueError(f"{path}: the object folders hold different numbers or sizes of masks")
            return np.logical_or.reduce(stacks)
        arrays = sorted(path.glob("*.npy"))
        if arrays and not _images_in(path):
            return np.stack([_select(np.load(p, allow_pickle=False), ids) for p in arrays])
        files = _images_in(path)
        if not files:
            raise ValueError(f"{path}: no mask images or .npy arrays in the folder")
        return np.stack([_select(_image_values(p), ids) for p in files])
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
    elif path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "masks" in data.files:
                array = data["masks"]
            elif len(data.files) == 1:
                array = data[data.files[0]]
            else:
                raise ValueError(f"{path}: several arrays ({', '.join(data.files)}); name the masks 'masks'")
    else:
        from mimicjax.translate.video import read_video

        video, _ = read_video(path)
        return video.max(axis=-1) > 127 if ids is None else _select(video[..., 0], ids)
    if array.ndim != 3:
        raise ValueError(f"{path}: masks must be (frames, height, width), got shape {array.shape}")
    return _select(array, ids)


def _image_values(path: Path) -> np.ndarray:
    """An image's stored values: palette indices for palette PNGs (SAM2's object ids; a colour conversion
    would lose them), else grey levels or RGB."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode == "P":
            return np.asarray(image)
        if image.mode in ("RGB", "RGBA"):
            return np.asarray(image.convert("RGB"))
        return np.asarray(image.convert("I") if image.mode.startswith("I") else image.convert("L"))


def read_masks(path: str | Path, num_frames: int, height: int, width: int, ids=None) -> np.ndarray:
    """Boolean masks [T, H, W] of what to remove, checked against the video's frame count and size."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no masks at {path}")
    masks = _mask_stack(path, ids)
    if masks.shape[1:] != (height, width):
        raise ValueError(f"{path}: masks are {masks.shape[2]}x{masks.shape[1]}, the video {width}x{height}; "
                         "segment the same (resized) frames")
    if masks.shape[0] != num_frames:
        raise ValueError(f"{path}: {masks.shape[0]} masks for {num_frames} video frames; give one mask per frame")
    return masks


def _load_table(path: Path) -> dict:
    """Arrays of an .npz, or the lists of a JSON object, by name."""
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        return raw if isinstance(raw, dict) else {"landmarks": raw}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz ({error})") from None


def _array(table: dict, name: str, path: Path, shape_tail: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(table[name], np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: '{name}' is not numeric") from None
    if array.ndim != 1 + len(shape_tail) or array.shape[1:] != shape_tail:
        raise ValueError(f"{path}: '{name}' must have shape (frames, {', '.join(map(str, shape_tail))}), got {array.shape}")
    return array


def _quaternion_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _euler_xyz_extrinsic_to_matrix(angles: np.ndarray) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll): rotations about the fixed x, y, z axes in that order."""
    r, p, y = np.moveaxis(angles, -1, 0)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.stack([
        np.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], -1),
        np.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], -1),
        np.stack([-sp, cp * sr, cp * cr], -1),
    ], -2)


@dataclasses.dataclass(frozen=True)
class GripperPoses:
    position: np.ndarray  # (T, 3)
    rotation: np.ndarray  # (T, 3, 3); columns are the gripper's axes in the pose frame


def read_gripper_poses(path: str | Path) -> GripperPoses:
    """Per-frame gripper poses (see the module docstring for the accepted keys)."""
    path = Path(path)
    table = _load_table(path)
    if "cartesian_position" in table:
        six = _array(table, "cartesian_position", path, (6,))
        position, rotation = six[:, :3], _euler_xyz_extrinsic_to_matrix(six[:, 3:])
    else:
        if "position" not in table:
            raise ValueError(f"{path}: no 'position' (T, 3) (or DROID's 'cartesian_position' (T, 6)); found {sorted(table)}")
        position = _array(table, "position", path, (3,))
        if "rotation" in table:
            rotation = _array(table, "rotation", path, (3, 3))
        elif "quaternion" in table:
            rotation = _quaternion_wxyz_to_matrix(_array(table, "quaternion", path, (4,)))
        elif "quaternion_xyzw" in table:
            rotation = _quaternion_wxyz_to_matrix(np.roll(_array(table, "quaternion_xyzw", path, (4,)), 1, axis=-1))
        else:
            raise ValueError(f"{path}: no orientation; give 'rotation' (T, 3, 3), 'quaternion' (T, 4, wxyz) or 'quaternion_xyzw'")
    if len(rotation) != len(position):
        raise ValueError(f"{path}: {len(position)} positions but {len(rotation)} orientations")
    bad = np.flatnonzero(~(np.all(np.isfinite(position), axis=1) & np.all(np.isfinite(rotation), axis=(1, 2))))
    if bad.size:
        raise ValueError(f"{path}: non-finite pose in frame(s) {bad[:10].tolist()}; fix or drop those frames")
    return GripperPoses(position=position, rotation=rotation)


@dataclasses.dataclass(frozen=True)
class HandKeypoints:
    points: np.ndarray  # (T, 21, 3): camera frame in metres ("camera"), or pixels x, y + depth ("image")
    space: str  # "camera" (HaMeR / WiLoR) or "image" (MediaPipe)
    focal_length: np.ndarray | None = None  # (2,) pixels, when the file gives it
    principal_point: np.ndarray | None = None  # (2,) pixels

    @property
    def found(self) -> np.ndarray:
        """(T,) bool: frames with a hand."""
        return np.all(np.isfinite(self.points), axis=(1, 2))


def _mediapipe_json(entries, path: Path) -> np.ndarray:
    points = np.full((len(entries), 21, 3), np.nan)
    for t, entry in enumerate(entries):
        if entry is None:
            continue
        if isinstance(entry, dict):  # {"hand_landmarks": [...]} or {"landmarks": [...]}
            entry = entry.get("hand_landmarks", entry.get("landmarks"))
            if entry is None:
                continue
        if len(entry) == 1 and isinstance(entry[0], list) and len(entry[0]) == 21:  # one hand in a list of hands
            entry = entry[0]
        if len(entry) != 21:
            raise ValueError(f"{path}: frame {t} has {len(entry)} landmarks; MediaPipe Hands gives 21")
        for j, landmark in enumerate(entry):
            values = [landmark.get(k, 0.0) for k in ("x", "y", "z")] if isinstance(landmark, dict) else list(landmark) + [0.0] * (3 - len(landmark))
            points[t, j] = values[:3]
    return points


def read_hand_keypoints(path: str | Path, width: int, height: int) -> HandKeypoints:
    """Hand keypoints per frame for a video of `width` x `height` (see the module docstring)."""
    path = Path(path)
    table = _load_table(path)
    optional = lambda name: None if name not in table else np.asarray(table[name], np.float64).reshape(-1)[:2]  # noqa: E731
    focal = optional("focal_length") if "focal_length" in table else optional("scaled_focal_length")
    if focal is not None and focal.size == 1:
        focal = np.repeat(focal, 2)
    principal = optional("principal_point")
    if "keypoints_3d" in table or "pred_keypoints_3d" in table:
        if "keypoints_3d" in table:
            points = _array(table, "keypoints_3d", path, (21, 3))
        else:
            if "pred_cam_t_full" not in table:
                raise ValueError(f"{path}: 'pred_keypoints_3d' needs 'pred_cam_t_full' (T, 3) to place the hand in the camera frame")
            points = _array(table, "pred_keypoints_3d", path, (21, 3)) + _array(table, "pred_cam_t_full", path, (3,))[:, None]
        return HandKeypoints(points, "camera", focal, principal)
    if "landmarks" in table:
        raw = table["landmarks"]
        points = _mediapipe_json(raw, path) if isinstance(raw, list) else _array(table, "landmarks", path, (21, 3))
        # Normalised x, y -> pixels; MediaPipe's z has roughly the scale of x, so it is scaled by the width.
        points = points * np.array([width, height, width])
        return HandKeypoints(points, "image")
    raise ValueError(f"{path}: no hand keypoints; expected 'keypoints_3d' or 'pred_keypoints_3d' + 'pred_cam_t_full' "
                     f"(HaMeR / WiLoR) or 'landmarks' (MediaPipe); found {sorted(table)}")
