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

    from mimicjax.video import read_video

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


def _select(array: np.ndarray, ids, image: bool = False) -> np.ndarray:
    """Masked pixels of one image (`image`: an RGB(A) rendering is collapsed) or of a (T, H, W) stack."""
    array = np.asarray(array)
    if image and array.ndim == 3 and array.shape[-1] in (3, 4):
        if ids is not None:
            raise ValueError("mask ids select values of id-valued masks; these masks are colour images")
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
        return np.stack([_select(_image_values(p), ids, image=True) for p in files])
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
        from mimicjax.video import read_video

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
    if ids is not None and not masks.any():
        raise ValueError(f"{path}: no pixel has any of the mask ids {list(ids)}")
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
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: give an .npz (named arrays) or a .json file")
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


def _rotations(make, values, path: Path, name: str) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    try:
        return make(Rotation, values).as_matrix()
    except ValueError as error:  # e.g. a zero quaternion
        raise ValueError(f"{path}: '{name}': {error}") from None


def _check_finite(values: np.ndarray, path: Path, name: str) -> None:
    bad = np.flatnonzero(~np.all(np.isfinite(values.reshape(len(values), -1)), axis=1))
    if bad.size:
        raise ValueError(f"{path}: non-finite '{name}' in frame(s) {bad[:10].tolist()}; fix or drop those frames")


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
        _check_finite(six, path, "cartesian_position")
        # DROID: roll, pitch, yaw about the fixed x, y, z axes (scipy's extrinsic "xyz").
        position = six[:, :3]
        rotation = _rotations(lambda r, v: r.from_euler("xyz", v), six[:, 3:], path, "cartesian_position")
    else:
        if "position" not in table:
            raise ValueError(f"{path}: no 'position' (T, 3) (or DROID's 'cartesian_position' (T, 6)); found {sorted(table)}")
        position = _array(table, "position", path, (3,))
        if "rotation" in table:
            rotation = _array(table, "rotation", path, (3, 3))
        elif "quaternion" in table:
            q = _array(table, "quaternion", path, (4,))
            _check_finite(q, path, "quaternion")
            rotation = _rotations(lambda r, v: r.from_quat(v, scalar_first=True), q, path, "quaternion")
        elif "quaternion_xyzw" in table:
            q = _array(table, "quaternion_xyzw", path, (4,))
            _check_finite(q, path, "quaternion_xyzw")
            rotation = _rotations(lambda r, v: r.from_quat(v), q, path, "quaternion_xyzw")
        else:
            raise ValueError(f"{path}: no orientation; give 'rotation' (T, 3, 3), 'quaternion' (T, 4, wxyz) or 'quaternion_xyzw'")
    if len(rotation) != len(position):
        raise ValueError(f"{path}: {len(position)} positions but {len(rotation)} orientations")
    _check_finite(np.concatenate([position, rotation.reshape(len(rotation), 9)], axis=1), path, "pose")
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
            several = all(isinstance(e, list) and len(e) == 21 for e in entry)
            raise ValueError(f"{path}: frame {t} " + ("has several hands; keep one per frame" if several else
                             f"has {len(entry)} landmarks; MediaPipe Hands gives 21"))
        for j, landmark in enumerate(entry):
            if isinstance(landmark, dict):
                if "x" not in landmark or "y" not in landmark:
                    raise ValueError(f"{path}: frame {t}, landmark {j} has no x or y")
                values = [landmark["x"], landmark["y"], landmark.get("z", 0.0)]
            else:
                if not 2 <= len(landmark) <= 3:
                    raise ValueError(f"{path}: frame {t}, landmark {j} has {len(landmark)} numbers; give x, y (and z)")
                values = list(landmark) + [0.0] * (3 - len(landmark))
            points[t, j] = values
    return points


def _pair(table: dict, name: str, path: Path) -> np.ndarray | None:
    """A per-video (fx, fy)-like pair: a scalar, 1 or 2 numbers, or a (T,) / (T, 2) array constant over
    frames (HaMeR writes one per detection)."""
    if name not in table:
        return None
    value = np.asarray(table[name], np.float64)
    if value.ndim == 2 and value.shape[1] == 2 or value.ndim == 1 and value.size > 2:
        if not np.allclose(value, value[0]):
            raise ValueError(f"{path}: '{name}' changes between frames; give the video's one camera (--camera)")
        value = value[0]
    value = value.reshape(-1)
    if value.size not in (1, 2) or not np.all(np.isfinite(value)):
        raise ValueError(f"{path}: '{name}' must be one or two finite numbers, got {np.asarray(table[name]).shape}")
    return np.repeat(value, 2) if value.size == 1 else value


def _handedness(table: dict, path: Path, frames: int) -> np.ndarray:
    """(T,) True for right hands, from HaMeR's `right` / WiLoR's `is_right` (a scalar or one per frame)."""
    name = "is_right" if "is_right" in table else "right" if "right" in table else None
    if name is None:
        raise ValueError(f"{path}: 'pred_keypoints_3d' are predicted on a mirrored crop for left hands; add the "
                         "models' 'right' (or 'is_right') flag, per frame or one for the video")
    flag = np.asarray(table[name]).astype(bool).reshape(-1)
    if flag.size == 1:
        return np.repeat(flag, frames)
    if flag.size != frames:
        raise ValueError(f"{path}: '{name}' has {flag.size} values for {frames} frames")
    return flag


def read_hand_keypoints(path: str | Path, width: int, height: int) -> HandKeypoints:
    """Hand keypoints per frame for a video of `width` x `height` (see the module docstring)."""
    path = Path(path)
    table = _load_table(path)
    focal = _pair(table, "focal_length", path) if "focal_length" in table else _pair(table, "scaled_focal_length", path)
    principal = _pair(table, "principal_point", path)
    if "keypoints_3d" in table or "pred_keypoints_3d" in table:
        if "keypoints_3d" in table:
            points = _array(table, "keypoints_3d", path, (21, 3))
        else:
            if "pred_cam_t_full" not in table:
                raise ValueError(f"{path}: 'pred_keypoints_3d' needs 'pred_cam_t_full' (T, 3) to place the hand in the camera frame")
            points = _array(table, "pred_keypoints_3d", path, (21, 3)).copy()
            # As the models' demos do: un-mirror left hands (x of the crop frame), then place the hand.
            points[..., 0] *= np.where(_handedness(table, path, len(points)), 1.0, -1.0)[:, None]
            points += _array(table, "pred_cam_t_full", path, (3,))[:, None]
        return HandKeypoints(points, "camera", focal, principal)
    if "landmarks" in table:
        raw = table["landmarks"]
        points = _mediapipe_json(raw, path) if isinstance(raw, list) else _array(table, "landmarks", path, (21, 3))
        xy = points[..., :2][np.isfinite(points[..., :2])]
        if xy.size and np.abs(xy).max() > 2.0:
            raise ValueError(f"{path}: landmark x, y reach {np.abs(xy).max():.1f}; MediaPipe's are normalised to [0, 1] "
                             "of the image (divide pixel coordinates by the width and height)")
        # Normalised x, y measure from the image's edge; pixel centres are at integers, hence the -0.5.
        # MediaPipe's z has roughly the scale of x, so it is scaled by the width.
        points = points * np.array([width, height, width]) - np.array([0.5, 0.5, 0.0])
        return HandKeypoints(points, "image")
    raise ValueError(f"{path}: no hand keypoints; expected 'keypoints_3d' or 'pred_keypoints_3d' + 'pred_cam_t_full' "
                     f"(HaMeR / WiLoR) or 'landmarks' (MediaPipe); found {sorted(table)}")
