"""Robot motion files: readers and writers for the formats robot-motion tools exchange (G1 first).

Every reader returns a `RobotMotion`: fps, root position (T, 3), root orientation (T, 4) as **wxyz**
quaternions, joint positions (T, n) in the robot's MJCF joint order, and the joint names. Pass
`robot=` (a `Robot`) to read a file for that robot; without it the joint count picks the robot among
those installed (23 -> the 23-DoF G1, 29 -> the 29-DoF G1); a count no robot has is an error naming
the file.

| format        | files | layout |
|---------------|-------|--------|
| `csv`         | Unitree / LAFAN1-retargeted CSV (the default for .csv) | one row per frame: root x y z, root quaternion, joints; no frame rate (pass `fps=`). The quaternion is **xyzw** (Unitree) unless `quat_order="wxyz"` (e.g. kimodo exports); a warning flags data that looks like the other order |
| `gmr`         | GMR pickle | `fps`, `root_pos`, `root_rot` (xyzw), `dof_pos` |
| `beyondmimic` | BeyondMimic / mjlab npz | `fps`, `joint_pos`, `body_pos_w`, `body_quat_w` (wxyz), ...; the root is body 0. The npz has no joint names: `joint_order="mjcf"` (mjlab, the default) or `"isaaclab"` (Isaac Lab BeyondMimic) |
| `asap`        | ASAP / PHC joblib pickle | `{clip name: {root_trans_offset, root_rot (xyzw), dof (T, 23), fps, ...}}`; `clip=` picks one |
| `npz`         | this project's npz (`save_robot_motion`) | `fps`, `root_pos`, `root_quat_wxyz`, `joint_pos`, `joint_names` |

Bad input is handled as for human motions (`mimicjax.motion.validate`): a `MotionFormatError` that
names the file and the fix, or a documented repair of non-finite / teleporting frames with a
`MotionRepairWarning` (`repair=False` raises instead).
"""

from __future__ import annotations

import dataclasses
import io as _io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimicjax import robots
from mimicjax.io_utils import atomic_path, atomic_write_text
from mimicjax.motion.safe_pickle import load_pickle
from mimicjax.robots import Robot
from mimicjax.motion.validate import (
    DEFAULT_MAX_ROOT_SPEED,
    LINEAR,
    QUAT_WXYZ,
    MotionFormatError,
    check_and_repair,
    fail,
    interpolate_at,
    require_positive_fps,
)

ROBOT_FORMATS = ("csv", "gmr", "beyondmimic", "asap", "npz")
_FORMAT_ALIASES = {"phc": "asap", "unitree": "csv", "lafan1": "csv", "mjlab": "beyondmimic", "mimicjax": "npz"}
_NPZ_FORMAT_TAG = "mimicjax.g1_motion/1"  # the tag of files written before other robots existed; kept


@dataclass(frozen=True)
class _Options:
    """What every reader passes down to `_clip_motion`: the robot (or None: by joint count) and repair."""

    robot: Robot | None
    repair: bool
    max_root_speed: float


@dataclass(frozen=True)
class RobotMotion:
    """One robot clip: root pose and joint positions per frame (numpy, float64)."""

    fps: float
    root_pos: np.ndarray  # (T, 3) metres, world frame, z up
    root_quat: np.ndarray  # (T, 4) wxyz, pelvis orientation in the world
    joint_pos: np.ndarray  # (T, n) radians, in `joint_names` order
    joint_names: tuple[str, ...]
    source: str = ""
    source_format: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def num_dof(self) -> int:
        return int(self.joint_pos.shape[1])

    @property
    def duration(self) -> float:
        return (self.num_frames - 1) / self.fps

    def replace(self, **changes) -> "RobotMotion":
        return dataclasses.replace(self, **changes)

    def slice(self, start: int = 0, stop: int | None = None) -> "RobotMotion":
        return self.replace(root_pos=self.root_pos[start:stop], root_quat=self.root_quat[start:stop], joint_pos=self.joint_pos[start:stop])

    def resample(self, fps: float) -> "RobotMotion":
        """The same motion at `fps` (slerp for the root orientation, linear otherwise)."""
        fps = require_positive_fps(fps, self.source or "<motion>", "fps")
        src_t = np.arange(self.num_frames) / self.fps
        dst_t = np.arange(int(np.floor(self.duration * fps + 1e-6)) + 1) / fps
        return self.replace(
            fps=fps,
            root_pos=interpolate_at(self.root_pos, LINEAR, src_t, dst_t),
            root_quat=interpolate_at(self.root_quat, QUAT_WXYZ, src_t, dst_t),
            joint_pos=interpolate_at(self.joint_pos, LINEAR, src_t, dst_t),
        )


# ---------------------------------------------------------------------- helpers


def robot_for(num_dof: int, path, robot: Robot | None = None) -> Robot:
    """`robot` if it has `num_dof` joints; without one, the only installed robot that has."""
    if robot is not None:
        if num_dof != robot.num_joints:
            raise fail(path, f"has {num_dof} joint values per frame; the {robot.title} has {robot.num_joints}",
                       "check the file's columns (root xyz, quaternion, joints) or pass the robot it was made for")
        return robot
    counts = {name: robots.get(name).num_joints for name in robots.names()}
    matches = [name for name, count in counts.items() if count == num_dof]
    if len(matches) == 1:
        return robots.get(matches[0])
    if not matches:
        known = ", ".join(f"{name} {count}" for name, count in counts.items())
        raise fail(path, f"has {num_dof} joint values per frame; no robot has that many ({known})",
                   "check the file's columns (root xyz, quaternion, joints) or the robot")
    raise fail(path, f"has {num_dof} joint values per frame, which fits {matches}", "pass --robot (robot= in Python)")


def _xyzw_to_wxyz(quat: np.ndarray) -> np.ndarray:
    return np.concatenate([quat[..., 3:], quat[..., :3]], axis=-1)


def _wxyz_to_xyzw(quat: np.ndarray) -> np.ndarray:
    return np.concatenate([quat[..., 1:], quat[..., :1]], axis=-1)


def _upright_score(quat_wxyz: np.ndarray) -> float:
    """Mean z component of the root's z axis: near 1 for a standing robot, negative if upside down."""
    q = quat_wxyz / np.maximum(np.linalg.norm(quat_wxyz, axis=-1, keepdims=True), 1e-12)
    x, y = q[:, 1], q[:, 2]
    return float(np.nanmean(1.0 - 2.0 * (x * x + y * y)))


def _warn_if_quaternion_order_looks_wrong(quat_wxyz: np.ndarray, given: str, path) -> None:
    """Warn when the file's quaternion columns make sense only in the other order."""
    columns = _wxyz_to_xyzw(quat_wxyz) if given == "xyzw" else quat_wxyz  # as written in the file
    other = columns if given == "xyzw" else _xyzw_to_wxyz(columns)  # the columns read the other way
    if _upright_score(quat_wxyz) < 0.0 and _upright_score(other) > 0.5:
        alternative = "wxyz" if given == "xyzw" else "xyzw"
        warnings.warn(f"{path}: read with quat_order='{given}' the robot is upside down on average, read as "
                      f"'{alternative}' it stands upright: pass quat_order='{alternative}' if that is the file's order",
                      stacklevel=4)


def _clip_motion(path, fmt, fps, root_pos, root_quat_wxyz, joint_pos, names, options: _Options) -> RobotMotion:
    root_pos = np.asarray(root_pos, dtype=np.float64)
    root_quat_wxyz = np.asarray(root_quat_wxyz, dtype=np.float64)
    joint_pos = np.asarray(joint_pos, dtype=np.float64)
    num = root_pos.shape[0]
    for name, array, width in (("root position", root_pos, 3), ("root quaternion", root_quat_wxyz, 4)):
        if array.ndim != 2 or array.shape[1] != width or array.shape[0] != num:
            raise fail(path, f"the {name} has shape {array.shape}, expected ({num}, {width})", "check the file's layout")
    if joint_pos.ndim != 2 or joint_pos.shape[0] != num:
        raise fail(path, f"the joint positions have shape {joint_pos.shape}, expected ({num}, joints)", "check the file's layout")
    robot = robot_for(joint_pos.shape[1], path, options.robot)
    names = tuple(names) if names is not None else robot.joint_names
    channels = {"root_pos": (root_pos, LINEAR), "root_quat": (root_quat_wxyz, QUAT_WXYZ), "joint_pos": (joint_pos, LINEAR)}
    fixed, _ = check_and_repair(channels, "root_pos", fps, path, repair=options.repair, max_root_speed=options.max_root_speed)
    quat = fixed["root_quat"]
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    return RobotMotion(fps=float(fps), root_pos=fixed["root_pos"], root_quat=quat, joint_pos=fixed["joint_pos"],
                    joint_names=names, source=str(path), source_format=fmt)


def _need_fps(fps, path, fmt: str) -> float:
    if fps is None:
        raise fail(path, f"{fmt} files do not record their frame rate", "pass --fps <frames per second> (fps= in Python; Unitree LAFAN1 G1 CSVs are 30 fps)")
    return require_positive_fps(fps, path, "fps")


def _fps_from(value, override, path) -> float:
    if override is not None:
        return require_positive_fps(override, path, "fps")
    if value is None:
        raise fail(path, "has no frame rate", "pass --fps <frames per second> (fps= in Python)")
    return require_positive_fps(value, path, "fps")


def _key(data: dict, key: str, path, fmt: str):
    if key not in data:
        raise fail(path, f"has no '{key}' (needed by the {fmt} format; found {sorted(map(str, data))[:12]})", "check format= or re-export the file")
    return data[key]


# ---------------------------------------------------------------------- readers


def _read_csv_table(path: Path) -> np.ndarray:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise fail(path, "is not a text CSV file", "pass a comma-separated text file") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and any(c.isalpha() for c in lines[0].replace("e", "").replace("E", "").replace("nan", "").replace("inf", "")):
        lines = lines[1:]  # a header row
    if not lines:
        raise fail(path, "has no data rows", "pass a CSV with one row per frame")
    try:
        table = np.loadtxt(_io.StringIO("\n".join(lines)), delimiter=",", ndmin=2)
    except ValueError as exc:
        raise fail(path, f"cannot be parsed as numbers ({exc})", "every row must hold root xyz, a quaternion and the joint angles, comma-separated") from None
    return table


def _read_csv(path, fps, quat_order, options: _Options) -> RobotMotion:
    if quat_order not in ("xyzw", "wxyz"):
        raise fail(path, f"quat_order={quat_order!r} is unknown", "pass quat_order='xyzw' (Unitree) or 'wxyz'")
    fps = _need_fps(fps, path, "CSV")
    table = _read_csv_table(path)
    robot_for(table.shape[1] - 7, path, options.robot)
    quat = table[:, 3:7]
    quat_wxyz = _xyzw_to_wxyz(quat) if quat_order == "xyzw" else quat
    if np.isfinite(quat_wxyz).all():
        _warn_if_quaternion_order_looks_wrong(quat_wxyz, quat_order, path)
    return _clip_motion(path, "csv", fps, table[:, :3], quat_wxyz, table[:, 7:], None, options)


def _read_gmr(data: dict, path, fps, options: _Options) -> RobotMotion:
    fps = _fps_from(data.get("fps"), fps, path)
    quat = np.asarray(_key(data, "root_rot", path, "gmr"), dtype=np.float64)
    return _clip_motion(path, "gmr", fps, _key(data, "root_pos", path, "gmr"), _xyzw_to_wxyz(quat),
                        _key(data, "dof_pos", path, "gmr"), None, options)


def _reorder_to_mjcf(joint_pos: np.ndarray, source_names, robot: Robot, path) -> tuple[np.ndarray, tuple[str, ...]]:
    source_names = tuple(str(n) for n in source_names)
    target = robot.joint_names
    if set(source_names) != set(target):
        raise fail(path, f"its joint names are not the {robot.title}'s", "pass joint_order= the names of the file's columns")
    index = [source_names.index(n) for n in target]
    return joint_pos[:, index], target


def _read_beyondmimic(data: dict, path, fps, joint_order, options: _Options) -> RobotMotion:
    fps = _fps_from(data.get("fps"), fps, path)
    joint_pos = np.asarray(_key(data, "joint_pos", path, "beyondmimic"), dtype=np.float64)
    body_pos = np.asarray(_key(data, "body_pos_w", path, "beyondmimic"), dtype=np.float64)
    body_quat = np.asarray(_key(data, "body_quat_w", path, "beyondmimic"), dtype=np.float64)
    if body_pos.ndim != 3 or body_quat.ndim != 3:
        raise fail(path, f"body_pos_w/body_quat_w have shapes {body_pos.shape}/{body_quat.shape}, expected (T, B, 3)/(T, B, 4)", "re-export the file")
    if joint_pos.ndim != 2:
        raise fail(path, f"joint_pos has shape {joint_pos.shape}, expected (T, joints)", "re-export the file")
    robot = robot_for(joint_pos.shape[1], path, options.robot)
    if joint_order in (None, "mjcf"):
        names = None
    elif isinstance(joint_order, str):
        try:
            order = robot.file_joint_order(joint_order)
        except ValueError as error:
            raise fail(path, str(error), "pass joint_order= the list of joint names") from None
        joint_pos, names = _reorder_to_mjcf(joint_pos, order, robot, path)
    else:
        joint_pos, names = _reorder_to_mjcf(joint_pos, joint_order, robot, path)
    return _clip_motion(path, "beyondmimic", fps, body_pos[:, 0], body_quat[:, 0], joint_pos, names, options)


def _asap_clip(name, clip: dict, path, fps, options: _Options) -> RobotMotion:
    clip_fps = _fps_from(clip.get("fps"), fps, path)
    dof = np.asarray(_key(clip, "dof", path, "asap"), dtype=np.float64)
    dof = dof.reshape(dof.shape[0], -1)
    quat = np.asarray(_key(clip, "root_rot", path, "asap"), dtype=np.float64)
    return _clip_motion(f"{path}[{name}]", "asap", clip_fps, _key(clip, "root_trans_offset", path, "asap"), _xyzw_to_wxyz(quat),
                        dof, None, options)


def _read_npz_own(data: dict, path, fps, options: _Options) -> RobotMotion:
    fps = _fps_from(data.get("fps"), fps, path)
    names = data.get("joint_names")
    names = None if names is None else tuple(str(n) for n in np.asarray(names).reshape(-1))
    return _clip_motion(path, "npz", fps, _key(data, "root_pos", path, "npz"), _key(data, "root_quat_wxyz", path, "npz"),
                        _key(data, "joint_pos", path, "npz"), names, options)


def _load_container(path: Path):
    if not path.exists():
        raise fail(path, "file not found", "check the path")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}
        except Exception as exc:
            raise fail(path, f"is not a readable npz archive ({type(exc).__name__}: {exc})", "check that the file is complete") from None
    if suffix in (".pkl", ".pickle", ".joblib"):
        return load_pickle(path)
    raise fail(path, f"has the unknown extension '{path.suffix}'", f"use .csv/.pkl/.npz, or pass format= one of {ROBOT_FORMATS}")


def detect_robot_format(path: Path, data) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    if isinstance(data, dict):
        keys = set(data)
        if {"root_pos", "root_rot", "dof_pos"} <= keys:
            return "gmr"
        if {"body_pos_w", "body_quat_w", "joint_pos"} <= keys:
            return "beyondmimic"
        if {"root_pos", "root_quat_wxyz", "joint_pos"} <= keys:
            return "npz"
        if data and all(isinstance(v, dict) and {"root_trans_offset", "root_rot", "dof"} <= set(v) for v in data.values()):
            return "asap"
    found = sorted(map(str, data))[:12] if isinstance(data, dict) else type(data).__name__
    raise fail(path, f"does not look like any supported robot motion format (found {found})", f"pass format= one of {ROBOT_FORMATS}")


def load_robot_clips(path: str | os.PathLike, fps: float | None = None, repair: bool = True,
                     max_root_speed: float = DEFAULT_MAX_ROOT_SPEED, robot: Robot | None = None) -> dict[str, RobotMotion]:
    """Every clip of an ASAP/PHC multi-clip pickle, by name (other formats give one clip named by the file)."""
    path = Path(path)
    options = _Options(robot, repair, max_root_speed)
    data = _load_container(path) if path.suffix.lower() != ".csv" else None
    if data is not None and detect_robot_format(path, data) == "asap":
        return {str(name): _asap_clip(name, clip, path, fps, options) for name, clip in data.items()}
    return {path.stem: load_robot_motion(path, fps=fps, repair=repair, max_root_speed=max_root_speed, robot=robot)}


def load_robot_motion(
    path: str | os.PathLike,
    format: str = "auto",
    fps: float | None = None,
    quat_order: str = "xyzw",
    clip: str | int | None = None,
    joint_order=None,
    repair: bool = True,
    max_root_speed: float = DEFAULT_MAX_ROOT_SPEED,
    robot: Robot | None = None,
) -> RobotMotion:
    """Read one robot clip (see the module docstring for formats and options).

    fps: needed for CSV, overrides the file's otherwise. quat_order: CSV quaternion column order.
    clip: name or index of the clip in a multi-clip ASAP/PHC pickle. joint_order: BeyondMimic column order
    ("mjcf", a name of `Robot.file_joint_order`, e.g. "isaaclab", or a list of names). repair /
    max_root_speed: bad-frame handling. robot: the `Robot` the file is for (default: by joint count).
    """
    path = Path(path)
    options = _Options(robot, repair, max_root_speed)
    fmt = _FORMAT_ALIASES.get(format, format)
    if fmt != "auto" and fmt not in ROBOT_FORMATS:
        raise fail(path, f"format={format!r} is unknown", f"pass format='auto' or one of {ROBOT_FORMATS}")
    if fmt == "csv" or (fmt == "auto" and path.suffix.lower() == ".csv"):
        if not path.exists():
            raise fail(path, "file not found", "check the path")
        return _read_csv(path, fps, quat_order, options)
    data = _load_container(path)
    if fmt == "auto":
        fmt = detect_robot_format(path, data)
    if not isinstance(data, dict):
        raise fail(path, f"holds a {type(data).__name__}, not a dict", f"check format= (asked: {fmt})")
    if fmt == "gmr":
        return _read_gmr(data, path, fps, options)
    if fmt == "beyondmimic":
        return _read_beyondmimic(data, path, fps, joint_order, options)
    if fmt == "npz":
        return _read_npz_own(data, path, fps, options)
    names = list(data)
    if clip is None:
        if len(names) != 1:
            raise fail(path, f"holds {len(names)} clips ({[str(n) for n in names[:10]]})", "pass clip= a name or index, or use load_robot_clips")
        key = names[0]
    elif isinstance(clip, int):
        if not -len(names) <= clip < len(names):
            raise fail(path, f"has {len(names)} clips, so clip={clip} does not exist", f"pass clip= 0..{len(names) - 1}")
        key = names[clip]
    else:
        if clip not in data:
            raise fail(path, f"has no clip named '{clip}' (found {[str(n) for n in names[:10]]})", "pass clip= one of those names")
        key = clip
    return _asap_clip(key, data[key], path, fps, options)


# ---------------------------------------------------------------------- writers


def save_robot_motion(motion: RobotMotion, path: str | os.PathLike, format: str | None = None, quat_order: str = "xyzw") -> None:
    """Write `motion` atomically as CSV (`quat_order` xyzw or wxyz) or as this project's npz.

    The format follows the file suffix (.csv / .npz) unless `format` is given.
    """
    path = Path(path)
    fmt = format or {".csv": "csv", ".npz": "npz"}.get(path.suffix.lower())
    if fmt == "csv":
        if quat_order not in ("xyzw", "wxyz"):
            raise ValueError(f"quat_order must be 'xyzw' or 'wxyz', got {quat_order!r}")
        quat = _wxyz_to_xyzw(motion.root_quat) if quat_order == "xyzw" else motion.root_quat
        table = np.concatenate([motion.root_pos, quat, motion.joint_pos], axis=1)
        buffer = _io.StringIO()
        np.savetxt(buffer, table, delimiter=",", fmt="%.9g")
        atomic_write_text(path, buffer.getvalue())
    elif fmt == "npz":
        with atomic_path(path) as tmp:
            np.savez(
                tmp,
                format=np.array(_NPZ_FORMAT_TAG),
                fps=np.array(motion.fps),
                root_pos=motion.root_pos,
                root_quat_wxyz=motion.root_quat,
                joint_pos=motion.joint_pos,
                joint_names=np.array(motion.joint_names),
            )
    else:
        raise ValueError(f"cannot tell the output format of {path}: use a .csv or .npz suffix or format='csv'|'npz'")


__all__ = [
    "ROBOT_FORMATS",
    "MotionFormatError",
    "RobotMotion",
    "detect_robot_format",
    "load_robot_clips",
    "load_robot_motion",
    "robot_for",
    "save_robot_motion",
]
