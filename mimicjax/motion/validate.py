"""Checks and repairs shared by every motion reader (human SMPL clips and G1 robot clips).

Readers turn any problem with a file into a `MotionFormatError` that names the file and the fix, or,
for the few problems that have a safe repair, fix it and emit a `MotionRepairWarning` naming the file
and the frames touched:

  * non-finite frames (NaN/Inf in any channel) and **teleporting frames** (the root moves faster than
    `max_root_speed`, 10 m/s by default: faster than any human sprint, so only a corrupt frame does it);
  * bad frames at the start or end of a clip are **dropped**; bad frames inside the clip are
    **interpolated** from their good neighbours (linear for positions and joint angles, slerp for
    rotations);
  * a clip split into two long parts by a jump (two clips glued together, a tracking failure) cannot be
    repaired safely and raises; so does any bad frame when the reader is called with `repair=False`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

# Fewer frames than this cannot be resampled, differentiated for velocities or tracked meaningfully.
MIN_FRAMES = 4
# Metres per second. Usain Bolt peaks near 12.4 m/s, but no video-derived or robot clip gets near 10.
DEFAULT_MAX_ROOT_SPEED = 10.0
# A run of bad frames longer than this (and longer than 10 % of the clip) is not treated as noise.
DEFAULT_MAX_BAD_RUN = 5

LINEAR = "linear"
ROTVEC = "rotvec"
QUAT_WXYZ = "quat_wxyz"


class MotionFormatError(ValueError):
    """A motion file that cannot be read as asked; the message names the file and the fix."""


class MotionRepairWarning(UserWarning):
    """A motion file was read after a documented repair (dropped or interpolated frames)."""


def fail(path, problem: str, fix: str) -> MotionFormatError:
    """Build the project's standard error: '<file>: <problem>. Fix: <fix>'."""
    return MotionFormatError(f"{path}: {problem}. Fix: {fix}")


def require_min_frames(num_frames: int, path, min_frames: int = MIN_FRAMES) -> None:
    if num_frames < min_frames:
        raise fail(
            path,
            f"the clip has {num_frames} frame(s); at least {min_frames} are needed",
            "use a longer clip (a single pose is not a motion)",
        )


def require_positive_fps(fps, path, flag: str = "fps") -> float:
    try:
        value = float(np.asarray(fps).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise fail(path, f"the frame rate {fps!r} is not a number", f"pass --{flag} <frames per second> ({flag}= in Python)") from None
    if not np.isfinite(value) or value <= 0:
        raise fail(path, f"the frame rate {value} is not a positive number", f"pass --{flag} <frames per second> ({flag}= in Python)")
    return value


def require_shape(array, expected: tuple, path, name: str) -> np.ndarray:
    """Check `array` against `expected` where None matches any size; returns it as a float array."""
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(path, f"'{name}' is not a numeric array", "re-export the file with numeric arrays") from None
    ok = array.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, array.shape))
    if not ok:
        want = "(" + ", ".join("T" if e is None else str(e) for e in expected) + ")"
        raise fail(path, f"'{name}' has shape {array.shape}, expected {want}", "check that the file is of the format you named")
    return array


# ----------------------------------------------------------------------------------------------------
# Interpolation at arbitrary times (used for repair and for resampling).


def _bracket(src_t: np.ndarray, dst_t: np.ndarray):
    """For each destination time: index of the source knot at or before it and the blend fraction."""
    idx = np.clip(np.searchsorted(src_t, dst_t, side="right") - 1, 0, len(src_t) - 2)
    span = src_t[idx + 1] - src_t[idx]
    alpha = np.clip((dst_t - src_t[idx]) / span, 0.0, 1.0)
    return idx, alpha


def _as_rotation(values: np.ndarray, kind: str) -> Rotation:
    flat = values.reshape(-1, values.shape[-1])
    if kind == ROTVEC:
        return Rotation.from_rotvec(flat)
    return Rotation.from_quat(flat, scalar_first=True)


def _from_rotation(rot: Rotation, kind: str, shape) -> np.ndarray:
    out = rot.as_rotvec() if kind == ROTVEC else rot.as_quat(scalar_first=True)
    return out.reshape(shape)


def interpolate_at(values: np.ndarray, kind: str, src_t: np.ndarray, dst_t: np.ndarray) -> np.ndarray:
    """Interpolate per-frame `values` (T, ...) known at times `src_t` (T,) to times `dst_t`.

    `kind` is LINEAR (any channels), ROTVEC (..., 3) or QUAT_WXYZ (..., 4): rotations use slerp.
    Times outside the source range are clamped to the first/last frame.
    """
    values = np.asarray(values, dtype=np.float64)
    src_t = np.asarray(src_t, dtype=np.float64)
    dst_t = np.asarray(dst_t, dtype=np.float64)
    if len(src_t) == 1:
        return np.repeat(values[:1], len(dst_t), axis=0)
    idx, alpha = _bracket(src_t, dst_t)
    a, b = values[idx], values[idx + 1]
    if kind == LINEAR:
        shape = (-1,) + (1,) * (values.ndim - 1)
        return a + (b - a) * alpha.reshape(shape)
    per_frame = int(np.prod(values.shape[1:-1], dtype=int))
    ra, rb = _as_rotation(a, kind), _as_rotation(b, kind)
    delta = (ra.inv() * rb).as_rotvec()  # shortest arc from a to b, (N*per_frame, 3)
    step = Rotation.from_rotvec(delta * np.repeat(alpha, per_frame)[:, None])
    out = _from_rotation(ra * step, kind, a.shape)
    if kind == QUAT_WXYZ:
        # Keep a continuous sign so later differencing (angular velocity) is smooth.
        out = np.where(np.sum(out * a, axis=-1, keepdims=True) < 0, -out, out)
    return out


# ----------------------------------------------------------------------------------------------------
# Bad frames.


@dataclass(frozen=True)
class RepairReport:
    dropped: tuple[int, ...]
    interpolated: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return bool(self.dropped or self.interpolated)


def finite_frames(*arrays: np.ndarray) -> np.ndarray:
    """Boolean (T,) mask of frames whose every channel in every array is finite."""
    ok = None
    for array in arrays:
        array = np.asarray(array, dtype=np.float64)
        frame_ok = np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
        ok = frame_ok if ok is None else ok & frame_ok
    return ok


def _segments(indices: np.ndarray, breaks: np.ndarray) -> list[np.ndarray]:
    """Split `indices` (sorted frame numbers) at positions where `breaks[i]` marks a jump i -> i+1."""
    cut = np.nonzero(breaks)[0] + 1
    return np.split(indices, cut)


def find_bad_frames(
    root_pos: np.ndarray,
    fps: float,
    frame_ok: np.ndarray,
    path,
    max_root_speed: float = DEFAULT_MAX_ROOT_SPEED,
    max_bad_run: int = DEFAULT_MAX_BAD_RUN,
) -> np.ndarray:
    """Indices of frames to repair: non-finite ones plus short runs separated from the clip by teleports.

    Works iteratively: split the good frames at every jump faster than `max_root_speed`, keep the longest
    part, mark short parts (at most `max_bad_run` frames, or 10 % of the clip) as bad and check again.
    Raises `MotionFormatError` when a jump separates two long parts, since then either could be right.
    """
    num = len(root_pos)
    good = np.asarray(frame_ok, dtype=bool).copy()
    allowed_run = max(max_bad_run, int(0.1 * num))
    for _ in range(num):
        idx = np.nonzero(good)[0]
        if len(idx) < 2:
            break
        dt = np.diff(idx) / fps
        speed = np.linalg.norm(np.diff(root_pos[idx], axis=0), axis=-1) / dt
        jumps = speed > max_root_speed
        if not jumps.any():
            break
        parts = _segments(idx, jumps)
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        short = [p for i, p in enumerate(parts) if i != longest and len(p) <= allowed_run]
        if not short:
            first = int(np.nonzero(jumps)[0][0])
            a, b = int(idx[first]), int(idx[first + 1])
            distance = float(np.linalg.norm(root_pos[b] - root_pos[a]))
            raise fail(
                path,
                f"the root jumps {distance:.2f} m between frames {a} and {b} ({distance / ((b - a) / fps):.1f} m/s "
                f"at {fps:g} fps) and both sides are long, so it is not a single corrupt frame",
                "split the clip at that frame, check the frame rate, or raise max_root_speed if the motion is real",
            )
        for part in short:
            good[part] = False
    return np.nonzero(~good)[0]


def repair_frames(
    channels: dict[str, tuple[np.ndarray, str]],
    bad: np.ndarray,
    path,
    repair: bool = True,
    reason: str = "",
) -> tuple[dict[str, np.ndarray], RepairReport]:
    """Drop leading/trailing `bad` frames and interpolate interior ones in every channel.

    `channels` maps a name to (values (T, ...), kind). Returns the repaired arrays and what was done;
    with `repair=False` any bad frame raises instead.
    """
    num = len(next(iter(channels.values()))[0])
    arrays = {name: np.asarray(v, dtype=np.float64) for name, (v, _) in channels.items()}
    if len(bad) == 0:
        return arrays, RepairReport((), ())
    bad_mask = np.zeros(num, dtype=bool)
    bad_mask[bad] = True
    good_idx = np.nonzero(~bad_mask)[0]
    frames = _describe_frames(bad)
    if not repair:
        raise fail(path, f"frames {frames} are bad{reason}", "fix the file, or read it with repair=True to drop/interpolate them")
    if len(good_idx) < MIN_FRAMES:
        raise fail(path, f"only {len(good_idx)} good frames remain after removing bad frames {frames}{reason}", "re-export the clip")
    first, last = good_idx[0], good_idx[-1]
    dropped = tuple(int(i) for i in bad if i < first or i > last)
    interior = np.array([i for i in bad if first < i < last], dtype=int)
    for name, (_, kind) in channels.items():
        values = arrays[name]
        if len(interior):
            values = values.copy()
            values[interior] = interpolate_at(values[good_idx], kind, good_idx, interior)
        arrays[name] = values[first : last + 1]
    report = RepairReport(dropped, tuple(int(i) for i in interior))
    parts = []
    if report.dropped:
        parts.append(f"dropped frames {_describe_frames(np.array(report.dropped))} at the clip's ends")
    if report.interpolated:
        parts.append(f"interpolated frames {_describe_frames(interior)} from their neighbours")
    warnings.warn(f"{path}: bad frames{reason}; " + " and ".join(parts) + " (pass repair=False to get an error instead)",
                  MotionRepairWarning, stacklevel=3)
    return arrays, report


def _describe_frames(frames: np.ndarray, limit: int = 12) -> str:
    frames = [int(f) for f in frames]
    text = ", ".join(str(f) for f in frames[:limit])
    return text + (f", ... ({len(frames)} in all)" if len(frames) > limit else "")


def check_and_repair(
    channels: dict[str, tuple[np.ndarray, str]],
    root_key: str,
    fps: float,
    path,
    repair: bool = True,
    max_root_speed: float = DEFAULT_MAX_ROOT_SPEED,
) -> tuple[dict[str, np.ndarray], RepairReport]:
    """The whole bad-frame pipeline for one clip: minimum length, non-finite frames, teleports."""
    num = len(channels[root_key][0])
    require_min_frames(num, path)
    frame_ok = finite_frames(*(v for v, _ in channels.values()))
    for values, kind in channels.values():
        if kind == QUAT_WXYZ:
            norms = np.linalg.norm(np.nan_to_num(np.asarray(values, dtype=np.float64)), axis=-1)
            frame_ok &= (norms > 1e-6).reshape(num, -1).all(axis=1)
    root = np.where(frame_ok[:, None], np.nan_to_num(np.asarray(channels[root_key][0], dtype=np.float64)), 0.0)
    bad = find_bad_frames(root, fps, frame_ok, path, max_root_speed=max_root_speed)
    num_nonfinite = int((~frame_ok).sum())
    reason = ""
    if len(bad):
        kinds = []
        if num_nonfinite:
            kinds.append(f"{num_nonfinite} with NaN/Inf values")
        if len(bad) > num_nonfinite:
            kinds.append(f"{len(bad) - num_nonfinite} where the root teleports faster than {max_root_speed:g} m/s")
        reason = " (" + ", ".join(kinds) + ")"
    return repair_frames(channels, bad, path, repair=repair, reason=reason)


def display_path(path) -> str:
    return str(Path(path)) if path is not None else "<in-memory motion>"
