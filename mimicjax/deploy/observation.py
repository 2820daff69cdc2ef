"""The student's observation from what a G1 measures, in NumPy (no JAX): what a robot loop calls every
control step (20 ms), next to an ONNX runtime.

    spec = ObservationSpec.from_metadata(onnx_metadata)      # or .from_env_config(run_config.env)
    motion = ReferenceMotion.load("lib.npz")                  # the motion library the goal comes from
    observe = StudentObservation(spec)
    obs = observe(joint_pos, joint_vel, gyro, imu_quat, last_action, motion.goal(spec, clip, t))
    action = session.run(None, {"obs": obs[None]})[0][0]     # joint targets: default + action * scale

It is the env's student observation (`mimicjax.envs.observations`), block for block: H frames of
proprioception (joint angles relative to the default pose, joint velocities, gyro in the pelvis frame,
gravity in the pelvis frame from the IMU orientation, previous action; oldest first; the first frame
after `reset` fills the whole history), then the goal from the motion file alone in the reference's own
heading frame. A test checks it equals the env's observation on recorded states. The quaternion helpers
below repeat `mimicjax.math.rotations` in NumPy because a robot computer should not need JAX; a test
checks they agree.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

PROPRIO_BLOCKS = ("joint_pos", "joint_vel", "root_ang_vel", "gravity", "last_action")
GOAL_BLOCKS = ("goal_keypoints", "goal_root_lin_vel", "goal_root_ang_vel", "goal_gravity")


# ---- wxyz quaternions in NumPy ------------------------------------------------------------------------


def quat_conjugate(quat: np.ndarray) -> np.ndarray:
    return quat * np.array([1.0, -1.0, -1.0, -1.0], quat.dtype)


def quat_rotate(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit wxyz quaternions (..., 4)."""
    w, xyz = quat[..., :1], quat[..., 1:]
    t = 2.0 * np.cross(xyz, v)
    return v + w * t + np.cross(xyz, t)


def heading_quat(quat: np.ndarray) -> np.ndarray:
    """The yaw-only part of wxyz orientations."""
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    zero = np.zeros_like(yaw)
    return np.stack([np.cos(0.5 * yaw), zero, zero, np.sin(0.5 * yaw)], axis=-1)


def quat_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-path spherical interpolation of wxyz quaternions at fractions t (...,)."""
    t = np.asarray(t, a.dtype)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    dot = np.abs(dot)
    close = dot > 0.9995
    omega = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_omega = np.where(close, 1.0, np.sin(omega))
    with np.errstate(invalid="ignore", divide="ignore"):
        wa = np.where(close, 1.0 - t, np.sin((1.0 - t) * omega) / sin_omega)
        wb = np.where(close, t, np.sin(t * omega) / sin_omega)
    out = wa * a + wb * b
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)


def gravity_in_frame(quat: np.ndarray) -> np.ndarray:
    """The unit gravity direction seen from frames of orientation `quat`: (0, 0, -1) when upright."""
    down = np.broadcast_to(np.array([0.0, 0.0, -1.0], quat.dtype), quat.shape[:-1] + (3,))
    return quat_rotate(quat_conjugate(quat), down)


# ---- what the observation is made of ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ObservationSpec:
    """Everything that fixes the student observation's layout and values."""

    default_joint_pos: np.ndarray  # (n,)
    action_scale: np.ndarray  # (n,)
    history: int  # proprioception frames, the current one included
    goal_offsets: tuple[float, ...]  # seconds after the current reference time
    num_keypoints: int
    clip: float  # every entry is clipped to +-clip (NaN -> 0)

    @property
    def num_joints(self) -> int:
        return int(self.default_joint_pos.shape[0])

    @property
    def proprio_size(self) -> int:
        return 3 * self.num_joints + 6

    @property
    def goal_size(self) -> int:
        return len(self.goal_offsets) * (3 * self.num_keypoints + 9)

    @property
    def size(self) -> int:
        return self.history * self.proprio_size + self.goal_size

    @classmethod
    def from_metadata(cls, metadata: dict) -> "ObservationSpec":
        """From an exported policy's metadata (`mimicjax.deploy.onnx_export.policy_metadata`; values may be
        JSON text, as ONNX stores them)."""
        def get(key):
            value = metadata[key]
            return json.loads(value) if isinstance(value, str) else value

        return cls(
            default_joint_pos=np.asarray(get("default_joint_pos"), np.float64),
            action_scale=np.asarray(get("action_scale"), np.float64),
            history=int(get("history_length")),
            goal_offsets=tuple(float(t) for t in get("goal_offsets")),
            num_keypoints=len(get("keypoint_bodies")),
            clip=float(get("observation_clip")),
        )

    @classmethod
    def from_env_config(cls, env_config) -> "ObservationSpec":
        """From a TrackingConfig (`config.env` of a run; imports the robot description, not JAX)."""
        spec = env_config.load_robot()
        obs = env_config.observations
        return cls(
            default_joint_pos=np.asarray(spec.default_pose, np.float64),
            action_scale=np.asarray(spec.action_scale, np.float64),
            history=obs.history,
            goal_offsets=tuple(obs.student_goal_offsets),
            num_keypoints=len(spec.keypoint_bodies),
            clip=float(obs.clip),
        )


def _finite_clipped(x: np.ndarray, clip: float) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(x, -clip, clip)


def proprio_frame(spec: ObservationSpec, joint_pos, joint_vel, gyro, imu_quat, last_action) -> np.ndarray:
    """One frame of proprioception: joints (n,), gyro (3,, pelvis frame, rad/s), IMU orientation (wxyz, world
    to pelvis), the previous policy action (n,)."""
    n = spec.num_joints
    given = {"joint_pos": joint_pos, "joint_vel": joint_vel, "gyro": gyro, "imu_quat": imu_quat, "last_action": last_action}
    for (name, value), size in zip(given.items(), (n, n, 3, 4, n)):
        if np.shape(value) != (size,):
            raise ValueError(f"{name}: expected shape ({size},), got {np.shape(value)}")
    imu_quat = np.asarray(imu_quat, np.float64)
    parts = {
        "joint_pos": np.asarray(joint_pos, np.float64) - spec.default_joint_pos,
        "joint_vel": np.asarray(joint_vel, np.float64),
        "root_ang_vel": np.asarray(gyro, np.float64),
        "gravity": gravity_in_frame(imu_quat / np.linalg.norm(imu_quat)),
        "last_action": np.asarray(last_action, np.float64),
    }
    return _finite_clipped(np.concatenate([parts[name] for name in PROPRIO_BLOCKS]), spec.clip)


class StudentObservation:
    """The student observation, step by step: keeps the proprioception history between calls."""

    def __init__(self, spec: ObservationSpec):
        self.spec = spec
        self._history: np.ndarray | None = None

    def reset(self) -> None:
        """Start a new episode: the next frame fills the whole history."""
        self._history = None

    def __call__(self, joint_pos, joint_vel, gyro, imu_quat, last_action, goal: np.ndarray) -> np.ndarray:
        """(size,) float32 observation; `goal` from `ReferenceMotion.goal`."""
        frame = proprio_frame(self.spec, joint_pos, joint_vel, gyro, imu_quat, last_action)
        if self._history is None:
            self._history = np.tile(frame[None], (self.spec.history, 1))
        else:
            self._history = np.concatenate([self._history[1:], frame[None]])
        goal = np.asarray(goal, np.float32)
        if goal.shape != (self.spec.goal_size,):
            raise ValueError(f"goal: expected shape ({self.spec.goal_size},), got {goal.shape}")
        return np.concatenate([self._history.reshape(-1), goal]).astype(np.float32)


# ---- the goal, from the motion file ----------------------------------------------------------------

_FRAME_FIELDS = ("root_pos", "root_quat", "joint_pos", "joint_vel", "root_lin_vel", "root_ang_vel", "keypoint_pos")


@dataclasses.dataclass(frozen=True)
class ReferenceMotion:
    """A motion library's frames in NumPy (`mimicjax retarget --out LIB.npz`), sampled like the env does."""

    arrays: dict  # frame fields (F, ...) and clip_start, clip_length, clip_fps (C,)
    clip_names: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path) -> "ReferenceMotion":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: np.asarray(data[name]) for name in (*_FRAME_FIELDS, "clip_start", "clip_length", "clip_fps")}
                meta = json.loads(str(data["meta"]))
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f"{path}: not a mimicjax motion library ({error}); make one with `mimicjax retarget "
                             f"... --out LIB.npz`") from None
        return cls(arrays, tuple(meta.get("clip_names", [f"clip{i}" for i in range(len(arrays["clip_start"]))])))

    @classmethod
    def from_library(cls, library) -> "ReferenceMotion":
        """From an in-memory `MotionLibrary` (e.g. one with mirrored clips added)."""
        names = (*_FRAME_FIELDS, "clip_start", "clip_length", "clip_fps")
        return cls({name: np.asarray(getattr(library, name)) for name in names}, tuple(library.meta.clip_names))

    @property
    def num_clips(self) -> int:
        return int(self.arrays["clip_start"].shape[0])

    def duration(self, clip: int) -> float:
        return float((self.arrays["clip_length"][clip] - 1) / self.arrays["clip_fps"][clip])

    def sample(self, clip: int, times) -> dict:
        """Every frame field at `times` (seconds, clamped to the clip): linear interpolation, slerp for the
        root orientation (as `mimicjax.motion.library.sample`)."""
        a = self.arrays
        if not 0 <= clip < self.num_clips:
            raise ValueError(f"clip {clip} does not exist; the library has {self.num_clips} (0..{self.num_clips - 1})")
        times = np.asarray(times, np.float32)
        length = int(a["clip_length"][clip])
        position = np.clip(times * np.float32(a["clip_fps"][clip]), 0.0, np.float32(length - 1))
        first = np.minimum(np.floor(position).astype(np.int64), length - 1)
        second = np.minimum(first + 1, length - 1)
        alpha = (position - first).astype(np.float32)
        i, j = int(a["clip_start"][clip]) + first, int(a["clip_start"][clip]) + second

        def lerp(x):
            w = alpha.reshape(alpha.shape + (1,) * (x.ndim - 1))
            return x[i] + w * (x[j] - x[i])

        out = {name: lerp(a[name]) for name in _FRAME_FIELDS if name != "root_quat"}
        out["root_quat"] = quat_slerp(a["root_quat"][i], a["root_quat"][j], alpha)
        return out

    def goal(self, spec: ObservationSpec, clip: int, time: float) -> np.ndarray:
        """The student's goal blocks at reference `time`: future keypoints, root velocities and root tilt
        at `spec.goal_offsets`, in the current reference frame's heading frame, flattened."""
        now = self.sample(clip, np.array([time]))
        future = self.sample(clip, time + np.asarray(spec.goal_offsets))
        heading = heading_quat(now["root_quat"][0])
        origin = now["root_pos"][0] * np.array([1.0, 1.0, 0.0], np.float32)
        inverse = quat_conjugate(heading)
        blocks = {
            "goal_keypoints": quat_rotate(np.broadcast_to(inverse, future["keypoint_pos"].shape[:-1] + (4,)),
                                          future["keypoint_pos"] - origin),
            "goal_root_lin_vel": quat_rotate(np.broadcast_to(inverse, (len(spec.goal_offsets), 4)), future["root_lin_vel"]),
            "goal_root_ang_vel": quat_rotate(np.broadcast_to(inverse, (len(spec.goal_offsets), 4)), future["root_ang_vel"]),
            "goal_gravity": gravity_in_frame(future["root_quat"]),
        }
        return _finite_clipped(np.concatenate([blocks[name].reshape(-1) for name in GOAL_BLOCKS]), spec.clip)


def joint_targets(spec: ObservationSpec, action: np.ndarray) -> np.ndarray:
    """The PD joint targets of a policy action: default pose + action * action scale (the env's mapping)."""
    return spec.default_joint_pos + np.asarray(action, np.float64) * spec.action_scale


__all__ = ["ObservationSpec", "ReferenceMotion", "StudentObservation", "joint_targets", "proprio_frame"]
