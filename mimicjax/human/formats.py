"""Readers for human motion files (SMPL / SMPL+H / SMPL-X parameters) into one `HumanMotion`.

`load_human_motion(path)` detects the format from the file's content (`format=` forces one):

| format      | files                                   | what is read                                                     |
|-------------|-----------------------------------------|------------------------------------------------------------------|
| `amass`     | npz/pkl with `poses` + `trans`           | `poses` (T,72) SMPL, (T,156) SMPL+H, (T,165) SMPL-X; `betas`, `gender`, `mocap_framerate` / `mocap_frame_rate` |
| `smplx`     | npz with `root_orient` + `pose_body`     | AMASS SMPL-X / smplcodec layout: `pose_hand`, `pose_jaw`, `pose_eye`, `trans`, `betas`, `expression` |
| `smpl_params` | npz/pkl with `global_orient` + `body_pose` + `transl` | any re-save of SMPL(-X) parameters, e.g. GVHMR's `smpl_params_global` |
| `gvhmr`     | GVHMR `hmr4d_results.pt` (torch) or an npz/pkl holding `smpl_params_global` | SMPL-X body parameters in GVHMR's gravity-aligned, y-up world |
| `wham`      | WHAM `wham_output.pkl` (joblib)          | `{subject: {pose_world (T,72), trans_world, betas, frame_ids, pose, trans}}`; world frame, y-up |
| `tram`      | TRAM `hps/hps_track_K.npy` (or an npz)   | `pred_rotmat` (T,24,3,3), `pred_shape`, `pred_trans`, `frame`; camera frame, moved to TRAM's world with `camera.npy` when found |
| `4dhumans`  | 4D-Humans/PHALP tracking pkl (joblib)    | per frame: `tid`, `smpl` [{global_orient (1,3,3), body_pose (23,3,3), betas}], `camera` translations; camera frame |

Frame rate: from the file (`mocap_framerate`, `mocap_frame_rate`, `fps`, `frame_rate`) or the `fps=`
argument (which wins, with a warning when they differ); a `MotionFormatError` names the file and the flag
when neither gives one (video estimators do not store it: pass the video's fps).

Up axis: `up_axis="auto"` detects it from the data. Heuristic: the SMPL pelvis frame's own up axis
(+y of the body model) is rotated by `global_orient` into the world in every frame; its average
direction is the world's up when the person is mostly upright (standing, walking, dancing: pelvis tilt
well under 45 degrees). The nearest signed coordinate axis is taken when the average lies within 45 degrees of
it; otherwise (lying, crawling, a sideways camera) the format's documented convention is used with a warning,
or an error asks for `up_axis=`. With `to_z_up=True` (the default) the motion is then turned so that the
person stands along +z: the rotation is applied to `global_orient` and about the world origin to the pelvis
position `transl + rest_pelvis` (see `HumanMotion.to_z_up`).

Readers then check shapes, frame count and finite values and repair bad frames (see
`mimicjax.motion.validate`): non-finite or teleporting frames at the ends are dropped, isolated ones inside
are interpolated (slerp), with a `MotionRepairWarning` naming the file and frames; `repair=False` raises.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mimicjax.motion.safe_pickle import _RestrictedUnpickler, load_pickle
from mimicjax.motion.validate import (
    DEFAULT_MAX_ROOT_SPEED,
    LINEAR,
    ROTVEC,
    MotionFormatError,
    MotionRepairWarning,
    check_and_repair,
    fail,
    interpolate_at,
    require_min_frames,
    require_positive_fps,
)

FORMATS = ("amass", "smplx", "smpl_params", "gvhmr", "wham", "tram", "4dhumans")
_FORMAT_ALIASES = {"phalp": "4dhumans", "4d-humans": "4dhumans", "smpl": "amass", "npz": "amass"}
UP_AXES = ("z", "y", "x", "-z", "-y", "-x")
_FPS_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps", "frame_rate", "framerate")
# Where each format's world points up when its documentation says so (used only if detection is unsure).
_CONVENTIONAL_UP = {"amass": "z", "gvhmr": "y", "wham": "y", "tram": "-y", "4dhumans": "-y"}
_NUM_HAND_JOINTS = 15


# ---------------------------------------------------------------------- the motion record


@dataclass(frozen=True)
class HumanMotion:
    """SMPL-family parameters of one person over time (numpy, float64).

    global_orient (T, 3) axis-angle of the pelvis in the world; body_pose (T, 23, 3) for SMPL or
    (T, 21, 3) for SMPL+H / SMPL-X (the hands are then in `hand_pose`); transl (T, 3) SMPL translation
    (the world pelvis is transl + the model's rest pelvis); betas (S,) one body shape for the clip.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    fps: float
    up_axis: str = "z"
    gender: str = "neutral"
    model_type: str = "smpl"  # smpl | smplh | smplx: which body model the parameters belong to
    hand_pose: np.ndarray | None = None  # (T, 30, 3): left hand joints then right hand joints
    face_pose: np.ndarray | None = None  # (T, 3, 3): jaw, left eye, right eye (SMPL-X)
    expression: np.ndarray | None = None  # (T, E) (SMPL-X)
    source: str = ""
    source_format: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.global_orient.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.num_frames - 1) / self.fps

    def replace(self, **changes) -> "HumanMotion":
        return dataclasses.replace(self, **changes)

    def smpl_body_pose(self) -> np.ndarray:
        """(T, 23, 3) body pose for a 24-joint SMPL skeleton (SMPL+H/X's 21 joints plus the two hand roots at rest)."""
        if self.body_pose.shape[1] == 23:
            return self.body_pose
        return np.concatenate([self.body_pose, np.zeros((self.num_frames, 2, 3))], axis=1)

    def slice(self, start: int = 0, stop: int | None = None) -> "HumanMotion":
        """Frames [start, stop) of the clip."""
        cut = lambda a: None if a is None else a[start:stop]  # noqa: E731
        return self.replace(**{name: cut(getattr(self, name)) for name in _per_frame_fields(self)})

    def resample(self, fps: float) -> "HumanMotion":
        """The same motion sampled at `fps` (slerp for rotations, linear for translation and expression)."""
        return resample(self, fps)

    def to_z_up(self, up_axis: str | None = None, rest_pelvis=None) -> "HumanMotion":
        """Turn the world so that `up_axis` (default: this motion's) becomes +z.

        The rotation acts on `global_orient` and, about the world origin, on the world pelvis
        `transl + rest_pelvis`. `rest_pelvis` defaults to the neutral mean-shape SMPL pelvis (pass
        `BodyModel.rest_pelvis(betas)` for an exact result with a real body model; the difference is a
        constant shift of a few millimetres).
        """
        source_up = up_axis or self.up_axis
        rotation = rotation_to_z_up(source_up)
        if source_up == "z":
            return self.replace(up_axis="z")
        if rest_pelvis is None:
            from mimicjax.human.smpl import neutral_rest_joints

            rest_pelvis = neutral_rest_joints()[0]
        rest_pelvis = np.asarray(rest_pelvis, dtype=np.float64)
        orient = (rotation * Rotation.from_rotvec(self.global_orient)).as_rotvec()
        transl = rotation.apply(self.transl + rest_pelvis) - rest_pelvis
        return self.replace(global_orient=orient, transl=transl, up_axis="z")


def _per_frame_fields(motion: HumanMotion) -> tuple[str, ...]:
    names = ("global_orient", "body_pose", "transl", "hand_pose", "face_pose", "expression")
    return tuple(n for n in names if getattr(motion, n) is not None)


def per_frame_channels(motion: HumanMotion) -> dict[str, tuple[np.ndarray, str]]:
    kinds = {"global_orient": ROTVEC, "body_pose": ROTVEC, "hand_pose": ROTVEC, "face_pose": ROTVEC, "transl": LINEAR, "expression": LINEAR}
    return {name: (getattr(motion, name), kinds[name]) for name in _per_frame_fields(motion)}


def resample(motion: HumanMotion, fps: float) -> HumanMotion:
    """Resample every per-frame channel of `motion` to `fps` over the same duration."""
    fps = require_positive_fps(fps, motion.source or "<motion>", "fps")
    src_t = np.arange(motion.num_frames) / motion.fps
    # Include the last source frame when the duration is a whole number of new frames (up to rounding).
    num_out = int(np.floor(motion.duration * fps + 1e-6)) + 1
    dst_t = np.arange(num_out) / fps
    changes = {name: interpolate_at(values, kind, src_t, dst_t) for name, (values, kind) in per_frame_channels(motion).items()}
    return motion.replace(fps=fps, **changes)


# ---------------------------------------------------------------------- up axis


def rotation_to_z_up(up_axis: str) -> Rotation:
    """The rotation taking the signed axis `up_axis` onto +z (a quarter or half turn)."""
    turns = {
        "z": ("x", 0.0),
        "y": ("x", 90.0),
        "-y": ("x", -90.0),
        "x": ("y", -90.0),
        "-x": ("y", 90.0),
        "-z": ("x", 180.0),
    }
    if up_axis not in turns:
        raise ValueError(f"up_axis must be one of {UP_AXES}, got {up_axis!r}")
    axis, degrees = turns[up_axis]
    return Rotation.from_euler(axis, degrees, degrees=True)


def body_up_directions(global_orient: np.ndarray) -> np.ndarray:
    """(T, 3) world direction of the pelvis frame's up axis (+y of the SMPL body frame)."""
    return Rotation.from_rotvec(np.asarray(global_orient, dtype=np.float64)).apply([0.0, 1.0, 0.0])


def detect_up_axis(global_orient: np.ndarray, min_cosine: float = np.cos(np.radians(45.0))) -> str | None:
    """The signed world axis the person's pelvis points up along on average, or None when unclear."""
    mean_up = body_up_directions(global_orient).mean(axis=0)
    norm = np.linalg.norm(mean_up)
    if norm < min_cosine:  # the pelvis up direction wanders too much to average meaningfully
        return None
    mean_up /= norm
    axis = int(np.argmax(np.abs(mean_up)))
    if abs(mean_up[axis]) < min_cosine:
        return None
    return ("" if mean_up[axis] > 0 else "-") + "xyz"[axis]


def _settle_up_axis(motion: HumanMotion, up_axis: str, path) -> str:
    if up_axis != "auto":
        if up_axis not in UP_AXES:
            raise fail(path, f"up_axis={up_axis!r} is not one of {('auto',) + UP_AXES}", "pass up_axis='z', 'y', ... or 'auto'")
        return up_axis
    detected = detect_up_axis(motion.global_orient)
    if detected is not None:
        return detected
    conventional = _CONVENTIONAL_UP.get(motion.source_format)
    if conventional is not None:
        warnings.warn(f"{path}: cannot tell the up axis from the data (the pelvis is far from upright); using the "
                      f"{motion.source_format} convention up_axis='{conventional}'. Pass up_axis= to choose.", stacklevel=3)
        return conventional
    raise fail(path, "cannot tell which way is up (the pelvis is far from upright on average)",
               "pass up_axis='z' (AMASS-style) or up_axis='y' (camera/graphics-style)")


# ---------------------------------------------------------------------- file helpers


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            out = {}
            for key in archive.files:
                try:
                    out[key] = archive[key]
                except ValueError:
                    out[key] = _object_entry(archive, key, path)
            return out
    except MotionFormatError:
        raise
    except Exception as exc:
        raise fail(path, f"is not a readable npz archive ({type(exc).__name__}: {exc})", "check that the file is complete") from None


def _object_entry(archive, key: str, path: Path):
    """Object arrays inside an npz (nested dicts) are unpickled with the restricted unpickler."""
    with archive.zip.open(key + ".npy") as member:
        raw = io.BytesIO(member.read())
    return _unpickle_npy(raw, path)


def _unpickle_npy(stream, path: Path):
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        _, _, dtype = np.lib.format.read_array_header_2_0(stream)
    if not dtype.hasobject:
        stream.seek(0)
        return np.load(stream, allow_pickle=False)
    array = _TorchAwareUnpickler(stream, path).load()
    return array.item() if isinstance(array, np.ndarray) and array.shape == () else array


class _TorchAwareUnpickler(_RestrictedUnpickler):
    """Also accepts torch tensors pickled inside numpy files (TRAM saves dicts of tensors with np.save)."""

    def find_class(self, module, name):
        if module.startswith("torch"):
            torch = _import_torch(self._path)
            if (module, name) == ("torch.storage", "_load_from_bytes"):
                return lambda data: torch.load(io.BytesIO(data), weights_only=True)
            if (module, name) in {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"), ("torch", "Size")}:
                return getattr(__import__(module, fromlist=[name]), name)
        return super().find_class(module, name)


def _import_torch(path):
    try:
        import torch
    except ImportError:
        raise fail(path, "holds torch tensors, and torch is not installed",
                   "install torch (CPU is enough) to read it, or re-save the arrays with numpy (np.savez) where torch is available") from None
    return torch


def _read_torch(path: Path):
    torch = _import_torch(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise fail(path, f"cannot be read as a torch file with weights_only=True ({type(exc).__name__}: {exc})",
                   "re-save the SMPL parameters as plain tensors/arrays (e.g. torch.save({'smpl_params_global': ...}) or np.savez)") from None


def _to_numpy(value):
    """Tensors, nested dicts and lists of them -> numpy (torch optional)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _read_raw(path: Path):
    suffix = path.suffix.lower()
    if not path.exists():
        raise fail(path, "file not found", "check the path")
    if path.is_dir():
        raise fail(path, "is a folder, not a motion file", "pass one motion file")
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in (".pt", ".pth"):
        return _to_numpy(_read_torch(path))
    if suffix == ".npy":
        with open(path, "rb") as f:
            try:
                return _to_numpy(_unpickle_npy(io.BytesIO(f.read()), path))
            except MotionFormatError:
                raise
            except Exception as exc:
                raise fail(path, f"is not a readable .npy file ({type(exc).__name__}: {exc})", "check that the file is complete") from None
    if suffix in (".pkl", ".pickle", ".joblib"):
        return _to_numpy(load_pickle(path))
    raise fail(path, f"has the unknown extension '{path.suffix}'", f"use .npz/.pkl/.pt/.npy motion files, or pass format= one of {FORMATS}")


def detect_format(raw, path) -> str:
    """Name of the format a loaded file's content follows (see the table in the module docstring)."""
    if isinstance(raw, dict):
        keys = set(raw)
        if "smpl_params_global" in keys:
            return "gvhmr"
        if {"root_orient", "pose_body"} <= keys:
            return "smplx"
        if {"poses", "trans"} <= keys:
            return "amass"
        if {"global_orient", "body_pose"} <= keys:
            return "smpl_params"
        if "pred_rotmat" in keys:
            return "tram"
        values = [v for v in raw.values() if isinstance(v, dict)]
        if values and len(values) == len(raw):
            if all({"pose", "trans"} <= set(v) or {"pose_world", "trans_world"} <= set(v) for v in values):
                return "wham"
            if all("smpl" in v and "tid" in v for v in values):
                return "4dhumans"
    keys = sorted(map(str, raw))[:12] if isinstance(raw, dict) else type(raw).__name__
    raise fail(path, f"does not look like any supported human motion format (found {keys})",
               f"pass format= one of {FORMATS} if the file is one of them, or convert it to an AMASS-style npz (poses, trans, betas, mocap_framerate)")


# ---------------------------------------------------------------------- per-format readers
# Each returns (fields for HumanMotion, fps found in the file or None).


def _get(raw: dict, key: str, path, fmt: str):
    if key not in raw:
        raise fail(path, f"has no '{key}' (needed by the {fmt} format; found keys {sorted(map(str, raw))[:15]})",
                   "check format= or re-export the file")
    return raw[key]


def _fps_in(raw: dict):
    for key in _FPS_KEYS:
        if key in raw and raw[key] is not None and np.size(raw[key]) >= 1:
            return float(np.asarray(raw[key]).reshape(-1)[0])
    return None


def _text(value, default: str = "neutral") -> str:
    if value is None:
        return default
    value = np.asarray(value).reshape(-1)
    if value.size == 0:
        return default
    item = value[0]
    return (item.decode("latin1") if isinstance(item, bytes) else str(item)).strip().lower() or default


def _betas(raw_betas, path) -> np.ndarray:
    if raw_betas is None:
        return np.zeros(10)
    betas = np.asarray(raw_betas, dtype=np.float64)
    if betas.ndim == 2:  # per-frame estimates from video: one shape per clip
        betas = betas.mean(axis=0)
    if betas.ndim != 1:
        raise fail(path, f"'betas' has shape {betas.shape}, expected (S,) or (T, S)", "re-export the file")
    return betas


def _rows(value, width: int | None, path, name: str) -> np.ndarray:
    """A (T, width) float array (any trailing shape flattened), checked."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim < 1:
        raise fail(path, f"'{name}' is a scalar, expected per-frame values", "re-export the file")
    array = array.reshape(array.shape[0], -1)
    if width is not None and array.shape[1] != width:
        raise fail(path, f"'{name}' has {array.shape[1]} values per frame, expected {width}", "check format= or re-export the file")
    return array


def _poses_layout(width: int, path) -> tuple[str, int]:
    layouts = {72: ("smpl", 23), 66: ("smpl", 21), 156: ("smplh", 21), 165: ("smplx", 21)}
    if width not in layouts:
        raise fail(path, f"'poses' has {width} values per frame; expected 72 (SMPL), 66 (SMPL body), 156 (SMPL+H) or 165 (SMPL-X)",
                   "check that this is an AMASS/SMPL-style file")
    return layouts[width]


def _read_amass(raw: dict, path):
    poses = _rows(_get(raw, "poses", path, "amass"), None, path, "poses")
    family, num_body = _poses_layout(poses.shape[1], path)
    num = poses.shape[0]
    fields = {
        "global_orient": poses[:, :3],
        "body_pose": poses[:, 3 : 3 + 3 * num_body].reshape(num, num_body, 3),
        "transl": _rows(_get(raw, "trans", path, "amass"), 3, path, "trans"),
        "betas": _betas(raw.get("betas"), path),
        "gender": _text(raw.get("gender")),
        "model_type": _text(raw.get("surface_model_type"), family) if family != "smpl" else "smpl",
    }
    if family == "smplh":
        fields["hand_pose"] = poses[:, 66:156].reshape(num, 30, 3)
    if family == "smplx":
        fields["face_pose"] = poses[:, 66:75].reshape(num, 3, 3)
        fields["hand_pose"] = poses[:, 75:165].reshape(num, 30, 3)
    if num_body == 21 and family == "smpl":
        fields["body_pose"] = np.concatenate([fields["body_pose"], np.zeros((num, 2, 3))], axis=1)
    return fields, _fps_in(raw)


def _read_smplx_keys(raw: dict, path):
    root = _rows(_get(raw, "root_orient", path, "smplx"), 3, path, "root_orient")
    num = root.shape[0]
    body = _rows(_get(raw, "pose_body", path, "smplx"), None, path, "pose_body")
    if body.shape[1] not in (63, 69):
        raise fail(path, f"'pose_body' has {body.shape[1]} values per frame, expected 63 (SMPL-X) or 69 (SMPL)", "re-export the file")
    fields = {
        "global_orient": root,
        "body_pose": body.reshape(num, -1, 3),
        "transl": _rows(_get(raw, "trans", path, "smplx"), 3, path, "trans"),
        "betas": _betas(raw.get("betas"), path),
        "gender": _text(raw.get("gender")),
        "model_type": "smplx" if body.shape[1] == 63 else "smpl",
    }
    if raw.get("pose_hand") is not None and np.size(raw["pose_hand"]) == num * 90:
        fields["hand_pose"] = _rows(raw["pose_hand"], 90, path, "pose_hand").reshape(num, 30, 3)
    jaw = raw.get("pose_jaw")
    eyes = raw.get("pose_eye")
    if jaw is not None and eyes is not None and np.size(jaw) == num * 3 and np.size(eyes) == num * 6:
        fields["face_pose"] = np.concatenate([_rows(jaw, 3, path, "pose_jaw"), _rows(eyes, 6, path, "pose_eye")], axis=1).reshape(num, 3, 3)
    if raw.get("expression") is not None and np.size(raw["expression"]) > 0:
        fields["expression"] = _rows(raw["expression"], None, path, "expression")
    return fields, _fps_in(raw)


def _read_smpl_params(raw: dict, path, fmt: str = "smpl_params"):
    orient = _rows(_get(raw, "global_orient", path, fmt), 3, path, "global_orient")
    num = orient.shape[0]
    body = _rows(_get(raw, "body_pose", path, fmt), None, path, "body_pose")
    if body.shape[1] not in (63, 69):
        raise fail(path, f"'body_pose' has {body.shape[1]} values per frame, expected 63 (SMPL-X/SMPL+H body) or 69 (SMPL)", "re-export the file")
    transl = raw.get("transl", raw.get("trans"))
    if transl is None:
        raise fail(path, f"has no 'transl' (needed by the {fmt} format)", "re-export the file with the translation")
    fields = {
        "global_orient": orient,
        "body_pose": body.reshape(num, -1, 3),
        "transl": _rows(transl, 3, path, "transl"),
        "betas": _betas(raw.get("betas"), path),
        "gender": _text(raw.get("gender")),
        "model_type": "smplx" if body.shape[1] == 63 else "smpl",
    }
    return fields, _fps_in(raw)


def _read_gvhmr(raw: dict, path):
    params = _get(raw, "smpl_params_global", path, "gvhmr")
    if not isinstance(params, dict):
        raise fail(path, "'smpl_params_global' is not a dict of arrays", "re-save GVHMR's smpl_params_global dict")
    fields, fps = _read_smpl_params(params, path, "gvhmr")
    return fields, fps if fps is not None else _fps_in(raw)


def _pick_subject(subjects: dict, subject, path, count) -> object:
    if subject is not None:
        for key in subjects:
            if str(key) == str(subject):
                return key
        raise fail(path, f"has no subject/track '{subject}' (found {list(subjects)[:20]})", "pass subject= one of those")
    best = max(subjects, key=count)
    if len(subjects) > 1:
        warnings.warn(f"{path}: {len(subjects)} people tracked ({list(subjects)[:10]}); using '{best}', the longest. "
                      "Pass subject= to choose.", stacklevel=4)
    return best


def _fill_frame_gaps(fields: dict, frame_ids: np.ndarray, path) -> dict:
    """Interpolate frames missing from a track (e.g. occlusions) so the clip is evenly sampled."""
    frame_ids = np.asarray(frame_ids).astype(np.int64).reshape(-1)
    order = np.argsort(frame_ids, kind="stable")
    frame_ids = frame_ids[order]
    full = np.arange(frame_ids[0], frame_ids[-1] + 1)
    kinds = {"global_orient": ROTVEC, "body_pose": ROTVEC, "transl": LINEAR}
    if len(full) == len(frame_ids):
        return {k: (v[order] if k in kinds else v) for k, v in fields.items()}
    missing = np.setdiff1d(full, frame_ids)
    warnings.warn(f"{path}: the track misses {len(missing)} frame(s) between {frame_ids[0]} and {frame_ids[-1]} "
                  f"(first: {missing[:8].tolist()}); they are interpolated", MotionRepairWarning, stacklevel=4)
    out = dict(fields)
    for key, kind in kinds.items():
        out[key] = interpolate_at(fields[key][order], kind, frame_ids.astype(float), full.astype(float))
    return out


def _read_wham(raw: dict, path, subject=None):
    key = _pick_subject(raw, subject, path, lambda k: len(np.asarray(raw[k].get("pose_world", raw[k].get("pose")))))
    result = raw[key]
    if "pose_world" in result and "trans_world" in result:
        pose, trans = result["pose_world"], result["trans_world"]
    else:
        warnings.warn(f"{path}: no world-frame results (WHAM ran with --estimate_local_only); using the camera frame", stacklevel=3)
        pose, trans = _get(result, "pose", path, "wham"), _get(result, "trans", path, "wham")
    pose = _rows(pose, 72, path, "pose_world")
    num = pose.shape[0]
    trans = _rows(trans, 3, path, "trans_world")
    fields = {
        "global_orient": pose[:, :3],
        "body_pose": pose[:, 3:].reshape(num, 23, 3),
        "transl": trans,
        "betas": _betas(result.get("betas"), path),
        "model_type": "smpl",
    }
    if result.get("frame_ids") is not None and np.size(result["frame_ids"]) == num:
        fields = _fill_frame_gaps(fields, result["frame_ids"], path)
    return fields, _fps_in(result) or _fps_in(raw)


def _rotmats_to_rotvec(rotmats: np.ndarray, path, name: str) -> np.ndarray:
    rotmats = np.asarray(rotmats, dtype=np.float64)
    if rotmats.shape[-2:] != (3, 3):
        raise fail(path, f"'{name}' has shape {rotmats.shape}, expected (..., 3, 3) rotation matrices", "re-export the file")
    flat = rotmats.reshape(-1, 3, 3)
    finite = np.isfinite(flat).all(axis=(1, 2))
    out = np.full((flat.shape[0], 3), np.nan)
    if finite.any():
        out[finite] = Rotation.from_matrix(flat[finite]).as_rotvec()
    return out.reshape(rotmats.shape[:-2] + (3,))


def _find_tram_camera(path: Path, camera):
    if camera is False:
        return None
    if camera is not None:
        camera_path = Path(camera)
    else:
        # TRAM's layout: results/<seq>/hps/hps_track_K.npy next to results/<seq>/camera.npy.
        camera_path = path.parent.parent / "camera.npy"
        if not camera_path.exists():
            return None
    with open(camera_path, "rb") as f:
        cam = _to_numpy(_unpickle_npy(io.BytesIO(f.read()), camera_path))
    if not isinstance(cam, dict) or "pred_cam_R" not in cam or "pred_cam_T" not in cam:
        raise fail(camera_path, "is not a TRAM camera file (needs pred_cam_R and pred_cam_T)", "pass camera= TRAM's results/<seq>/camera.npy, or camera=False")
    return np.asarray(cam["pred_cam_R"], dtype=np.float64), np.asarray(cam["pred_cam_T"], dtype=np.float64), camera_path


def _read_tram(raw: dict, path, camera=None):
    rotmats = np.asarray(_get(raw, "pred_rotmat", path, "tram"), dtype=np.float64)
    if rotmats.ndim != 4 or rotmats.shape[1:] != (24, 3, 3):
        raise fail(path, f"'pred_rotmat' has shape {rotmats.shape}, expected (T, 24, 3, 3)", "re-export TRAM's hps file")
    num = rotmats.shape[0]
    rotvecs = _rotmats_to_rotvec(rotmats, path, "pred_rotmat")
    transl = np.asarray(_get(raw, "pred_trans", path, "tram"), dtype=np.float64).reshape(num, 3)
    fields = {
        "global_orient": rotvecs[:, 0],
        "body_pose": rotvecs[:, 1:],
        "transl": transl,
        "betas": _betas(raw.get("pred_shape"), path),
        "model_type": "smpl",
    }
    frames = np.asarray(raw["frame"]).astype(np.int64).reshape(-1) if raw.get("frame") is not None else np.arange(num)
    found = _find_tram_camera(Path(path), camera)
    if found is not None:
        cam_r, cam_t, camera_path = found
        if frames.max() >= len(cam_r):
            raise fail(camera_path, f"has {len(cam_r)} camera poses but the track reaches frame {frames.max()}", "pass the camera.npy of the same video")
        fields.update(_camera_to_world(fields["global_orient"], fields["transl"], cam_r[frames], cam_t[frames]))
    return _fill_frame_gaps(fields, frames, path), _fps_in(raw)


def _camera_to_world(orient, transl, cam_r, cam_t):
    """Move SMPL parameters from a camera frame to the world: x_world = R_c x_cam + T_c for every point."""
    from mimicjax.human.smpl import neutral_rest_joints

    pelvis = neutral_rest_joints()[0]
    rot = Rotation.from_matrix(cam_r)
    world_orient = (rot * Rotation.from_rotvec(orient)).as_rotvec()
    world_transl = rot.apply(transl + pelvis) + cam_t - pelvis
    return {"global_orient": world_orient, "transl": world_transl}


def _read_4dhumans(raw: dict, path, subject=None):
    frames = sorted(raw.values(), key=lambda f: int(np.asarray(f.get("time", 0)).reshape(-1)[0]))
    counts: dict = {}
    for frame in frames:
        for tid in frame.get("tid", []):
            counts[int(tid)] = counts.get(int(tid), 0) + 1
    if not counts:
        raise fail(path, "tracks no person in any frame", "run 4D-Humans/PHALP on a video with a visible person")
    track = _pick_subject(counts, subject, path, lambda k: counts[k])
    times, orient, body, transl, betas = [], [], [], [], []
    for frame in frames:
        tids = [int(t) for t in frame.get("tid", [])]
        if int(track) not in tids:
            continue
        i = tids.index(int(track))
        smpl = frame["smpl"][i]
        times.append(int(np.asarray(frame.get("time", len(times))).reshape(-1)[0]))
        orient.append(np.asarray(smpl["global_orient"], dtype=np.float64).reshape(3, 3))
        body.append(np.asarray(smpl["body_pose"], dtype=np.float64).reshape(-1, 3, 3))
        betas.append(np.asarray(smpl.get("betas", np.zeros(10)), dtype=np.float64).reshape(-1))
        transl.append(np.asarray(frame["camera"][i], dtype=np.float64).reshape(3))
    body = np.stack(body)
    if body.shape[1] != 23:
        raise fail(path, f"'body_pose' holds {body.shape[1]} joints, expected 23 (SMPL)", "re-export the tracking result")
    fields = {
        "global_orient": _rotmats_to_rotvec(np.stack(orient), path, "global_orient"),
        "body_pose": _rotmats_to_rotvec(body, path, "body_pose"),
        "transl": np.stack(transl),
        "betas": np.mean(betas, axis=0),
        "model_type": "smpl",
    }
    return _fill_frame_gaps(fields, np.array(times), path), None


# ---------------------------------------------------------------------- public entry point


def load_human_motion(
    path: str | os.PathLike,
    format: str = "auto",
    fps: float | None = None,
    up_axis: str = "auto",
    to_z_up: bool = True,
    subject=None,
    camera=None,
    repair: bool = True,
    max_root_speed: float = DEFAULT_MAX_ROOT_SPEED,
    rest_pelvis=None,
) -> HumanMotion:
    """Read a human motion file into a `HumanMotion` (Z-up by default).

    format: "auto" (from the content) or one of FORMATS. fps: frames per second when the file has none
    (or to override it). up_axis: "auto" or the file's up axis ("z", "y", "-y", ...). to_z_up: turn the
    result so the person stands along +z. subject: person/track id for multi-person files (WHAM,
    4D-Humans; default: the longest track). camera: TRAM camera.npy (default: found next to the results;
    False keeps the camera frame). repair / max_root_speed: bad-frame handling (see module docstring).
    rest_pelvis: the body model's rest pelvis for the up-axis turn (default: neutral SMPL).
    """
    path = Path(path)
    raw = _read_raw(path)
    fmt = _FORMAT_ALIASES.get(format, format)
    if fmt == "auto":
        fmt = detect_format(raw, path)
    elif fmt not in FORMATS:
        raise fail(path, f"format={format!r} is unknown", f"pass format='auto' or one of {FORMATS}")
    if not isinstance(raw, dict):
        raise fail(path, f"holds a {type(raw).__name__}, not a dict of arrays", f"check format= (asked: {fmt})")
    readers = {
        "amass": lambda: _read_amass(raw, path),
        "smplx": lambda: _read_smplx_keys(raw, path),
        "smpl_params": lambda: _read_smpl_params(raw, path),
        "gvhmr": lambda: _read_gvhmr(raw, path),
        "wham": lambda: _read_wham(raw, path, subject),
        "tram": lambda: _read_tram(raw, path, camera),
        "4dhumans": lambda: _read_4dhumans(raw, path, subject),
    }
    try:
        fields, file_fps = readers[fmt]()
    except MotionFormatError:
        raise
    except (ValueError, TypeError, IndexError, KeyError) as error:  # numpy's words, about arrays it could not use
        raise _unreadable(raw, fmt, path, error) from None
    fps = _settle_fps(file_fps, fps, path)
    motion = _validated(fields, fps, fmt, path)
    channels, _ = check_and_repair(per_frame_channels(motion), "transl", fps, path, repair=repair, max_root_speed=max_root_speed)
    motion = motion.replace(**channels)
    motion = motion.replace(up_axis=_settle_up_axis(motion, up_axis, path))
    return motion.to_z_up(rest_pelvis=rest_pelvis) if to_z_up else motion


def _settle_fps(file_fps, fps, path) -> float:
    if fps is not None:
        fps = require_positive_fps(fps, path, "fps")
        if file_fps is not None and abs(file_fps - fps) > 1e-6 * max(1.0, fps):
            warnings.warn(f"{path}: the file says {file_fps:g} fps but fps={fps:g} was passed; using {fps:g}", stacklevel=3)
        return fps
    if file_fps is None:
        raise fail(path, "the file does not record its frame rate", "pass --fps <frames per second> (fps= in Python; the source video's frame rate)")
    return require_positive_fps(file_fps, path, "fps")


def _unreadable(raw: dict, fmt: str, path, error: Exception) -> MotionFormatError:
    """The user's words for a reader that failed inside numpy: empty arrays, text where numbers belong."""
    arrays = {k: v for k, v in raw.items() if isinstance(v, np.ndarray) and v.ndim > 0}
    empty = sorted(k for k, v in arrays.items() if v.size == 0)
    text = sorted(k for k, v in arrays.items() if v.dtype.kind in "USO" and v.size > 1)
    if empty:
        return fail(path, f"the arrays {empty} hold no frames", "export a clip of at least 2 frames")
    if text:
        return fail(path, f"the arrays {text} hold text, not numbers", "re-export the file with numeric arrays")
    return fail(path, f"cannot be read as {fmt} ({type(error).__name__}: {error})",
                "check format= (or --format) and that the file was written completely")


# Plausible ranges of a human motion: outside them the file was misread or mis-exported (degrees for
# radians, millimetres for metres, a frame index for a frame rate), and retargeting it would fail or
# silently produce nonsense.
FPS_RANGE = (1.0, 1000.0)  # Hz
MAX_JOINT_ANGLE = 2.0 * np.pi + 0.5  # rad, axis-angle magnitude (a rotation needs at most pi; unwrapped 2 pi)
MAX_TRANSLATION = 1e4  # m from the origin


def check_plausible(fields: dict, fps: float, path) -> None:
    """Refuse frame rates, joint angles and translations no human motion has, naming the fix."""
    low, high = FPS_RANGE
    if not low <= fps <= high:
        raise fail(path, f"the frame rate {fps:g} Hz is outside {low:g}-{high:g} Hz",
                   "pass the real frame rate with --fps (fps= in Python)")
    rotations = [np.asarray(fields[name], np.float64).reshape(-1, 3) for name in ("global_orient", "body_pose")]
    angles = np.linalg.norm(np.concatenate(rotations), axis=-1)
    finite = angles[np.isfinite(angles)]
    if finite.size and finite.max() > MAX_JOINT_ANGLE:
        hint = ("the poses look like degrees: convert them to radians" if finite.max() < 400.0
                else "re-export the file; its poses are not axis-angle radians")
        raise fail(path, f"a joint rotation of {finite.max():.3g} rad is not a human pose "
                   f"(axis-angle stays below {MAX_JOINT_ANGLE:.2f})", hint)
    transl = np.asarray(fields["transl"], np.float64)
    finite = np.abs(transl[np.isfinite(transl)])
    if finite.size and finite.max() > MAX_TRANSLATION:
        raise fail(path, f"the root translation reaches {finite.max():.3g} m", "check the units: translations are metres")


def _validated(fields: dict, fps: float, fmt: str, path) -> HumanMotion:
    num = fields["global_orient"].shape[0]
    require_min_frames(num, path)
    for name in ("body_pose", "transl", "hand_pose", "face_pose", "expression"):
        value = fields.get(name)
        if value is not None and value.shape[0] != num:
            raise fail(path, f"'{name}' has {value.shape[0]} frames but the root orientation has {num}", "re-export the file; every per-frame array must have the same length")
    betas = fields.get("betas", np.zeros(10))
    if not np.all(np.isfinite(betas)):
        raise fail(path, "the body shape (betas) contains NaN/Inf", "re-export the file, or set the betas to zeros (mean shape)")
    check_plausible(fields, fps, path)
    return HumanMotion(
        global_orient=np.asarray(fields["global_orient"], dtype=np.float64),
        body_pose=np.asarray(fields["body_pose"], dtype=np.float64),
        transl=np.asarray(fields["transl"], dtype=np.float64),
        betas=np.asarray(betas, dtype=np.float64),
        fps=float(fps),
        up_axis="z",
        gender=fields.get("gender", "neutral"),
        model_type=fields.get("model_type", "smpl"),
        hand_pose=fields.get("hand_pose"),
        face_pose=fields.get("face_pose"),
        expression=fields.get("expression"),
        source=str(path),
        source_format=fmt,
    )


def save_amass_npz(motion: HumanMotion, path: str | os.PathLike) -> None:
    """Write `motion` as an AMASS-style npz (poses, trans, betas, gender, mocap_framerate), atomically."""
    from mimicjax.io_utils import atomic_path

    num = motion.num_frames
    if motion.model_type == "smplx" and motion.body_pose.shape[1] == 21:
        face = motion.face_pose if motion.face_pose is not None else np.zeros((num, 3, 3))
        hands = motion.hand_pose if motion.hand_pose is not None else np.zeros((num, 30, 3))
        poses = np.concatenate([motion.global_orient, motion.body_pose.reshape(num, -1), face.reshape(num, -1), hands.reshape(num, -1)], axis=1)
    elif motion.body_pose.shape[1] == 21:
        hands = motion.hand_pose if motion.hand_pose is not None else np.zeros((num, 30, 3))
        poses = np.concatenate([motion.global_orient, motion.body_pose.reshape(num, -1), hands.reshape(num, -1)], axis=1)
    else:
        poses = np.concatenate([motion.global_orient, motion.body_pose.reshape(num, -1)], axis=1)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            poses=poses.astype(np.float32),
            trans=motion.transl.astype(np.float32),
            betas=np.asarray(motion.betas, dtype=np.float32),
            gender=np.array(motion.gender),
            mocap_framerate=np.array(motion.fps),
        )


__all__ = [
    "FORMATS",
    "HumanMotion",
    "MotionFormatError",
    "MotionRepairWarning",
    "detect_format",
    "detect_up_axis",
    "load_human_motion",
    "resample",
    "rotation_to_z_up",
    "save_amass_npz",
]
