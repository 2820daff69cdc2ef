"""Early termination of the tracking env: one small pure function per cause, thresholds in the config.

An episode ends as a failure (`terminated`, no bootstrap) when the robot falls, i.e. its root height or
tilt is far from the reference's, when any tracked keypoint drifts beyond a distance from its goal, or
when the physics blew up. Each cause is logged as `termination/<name>`. A threshold of `inf` disables
its cause.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax.numpy as jnp

from mimicjax.math.rotations import quat_rotate

CAUSES = ("root_height", "tilt", "keypoint_drift", "nonfinite")


@dataclasses.dataclass(frozen=True)
class TerminationConfig:
    max_root_height_error: float = 0.25  # m, |z - z_ref| of the pelvis
    max_tilt_error: float = 1.0  # rad between the robot's and the reference's pelvis up axes
    max_keypoint_error: float = 0.5  # m, any keypoint (in `keypoint_frame`)
    keypoint_frame: Literal["anchored", "world"] = "anchored"  # as `RewardConfig.keypoint_frame`
    max_joint_speed: float = 1e3  # rad/s: beyond this the physics is considered diverged


def root_height(root_pos, ref_root_pos, threshold):
    return jnp.abs(root_pos[..., 2] - ref_root_pos[..., 2]) > threshold


def up_axis(quat):
    z = jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0], quat.dtype), quat.shape[:-1] + (3,))
    return quat_rotate(quat, z)


def tilt_error(quat, ref_quat):
    """Angle (rad) between the body z axes of two orientations: tilt only, heading ignored."""
    cos = jnp.sum(up_axis(quat) * up_axis(ref_quat), axis=-1)
    return jnp.arccos(jnp.clip(cos, -1.0, 1.0))


def tilt(quat, ref_quat, threshold):
    return tilt_error(quat, ref_quat) > threshold


def keypoint_drift(keypoint_pos, ref_keypoint_pos, threshold):
    """Any keypoint (K, 3) farther than `threshold` from its goal."""
    return jnp.any(jnp.linalg.norm(keypoint_pos - ref_keypoint_pos, axis=-1) > threshold, axis=-1)


def nonfinite(qpos, qvel, max_speed):
    return ~(jnp.all(jnp.isfinite(qpos), axis=-1) & jnp.all(jnp.isfinite(qvel), axis=-1)) | jnp.any(jnp.abs(qvel) > max_speed, axis=-1)


def check(config: TerminationConfig, *, root_pos, ref_root_pos, root_quat, ref_root_quat, keypoint_pos, ref_keypoint_pos, qpos, qvel) -> dict:
    """Every cause in `CAUSES` as a float32 flag in {0, 1}."""
    causes = {
        "root_height": root_height(root_pos, ref_root_pos, config.max_root_height_error),
        "tilt": tilt(root_quat, ref_root_quat, config.max_tilt_error),
        "keypoint_drift": keypoint_drift(keypoint_pos, ref_keypoint_pos, config.max_keypoint_error),
        "nonfinite": nonfinite(qpos, qvel, config.max_joint_speed),
    }
    return {name: flag.astype(jnp.float32) for name, flag in causes.items()}


def any_cause(causes: dict):
    return jnp.max(jnp.stack([causes[name] for name in CAUSES]), axis=0)


__all__ = ["CAUSES", "TerminationConfig", "any_cause", "check", "keypoint_drift", "nonfinite", "root_height", "tilt", "tilt_error", "up_axis"]
