"""Reward terms of the tracking env: one small pure function per term, weights in `RewardConfig`.

Each term returns an unweighted scalar; the env multiplies it by its weight, sums, and logs both the
raw value (`reward_raw/<name>`) and the weighted contribution (`reward/<name>`). Tracking terms are
kernels `exp(-error^2 / sigma^2)` in [0, 1] (1 at perfect tracking); regularisers are non-negative
costs with negative weights. Setting a weight to 0 removes a term from the sum (it is still logged).

The keypoint term is GenMimic's keypoint-weighted tracking reward,
    r = sum_k w_k exp(-|p_k - p^_k|^2 / sigma^2) / sum_k w_k,
with w_k by keypoint group (`g1.KEYPOINT_GROUP_WEIGHTS`: end effectors, then upper body, then lower
body) and per-keypoint overrides from the config.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mimicjax.math.rotations import heading_quat, quat_conjugate, quat_multiply, quat_rotate, quat_to_axis_angle


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    # Weights (per control step).
    keypoint: float = 1.0
    root_pos: float = 0.5
    root_ori: float = 0.5
    joint_pos: float = 0.5
    joint_vel: float = 0.1
    body_lin_vel: float = 0.5
    body_ang_vel: float = 0.5
    action_rate: float = -0.1
    torque: float = -0.01
    joint_limit: float = -10.0
    undesired_contacts: float = -0.1
    termination: float = -10.0
    # Kernel widths.
    keypoint_sigma: float = 0.3  # m
    root_pos_sigma: float = 0.3  # m
    root_ori_sigma: float = 0.4  # rad
    joint_pos_sigma: float = 0.3  # rad, on the mean squared joint error
    joint_vel_sigma: float = 2.0  # rad/s, on the mean squared joint velocity error
    body_lin_vel_sigma: float = 1.0  # m/s, mean over keypoint bodies
    body_ang_vel_sigma: float = 3.14  # rad/s, mean over keypoint bodies
    # Keypoint weights: group weights (groups not named keep `g1.KEYPOINT_GROUP_WEIGHTS`) and per-body
    # overrides. `--set env.rewards.keypoint_group_weights.end_effector=3` changes one group.
    keypoint_group_weights: tuple[tuple[str, float], ...] | None = None
    keypoint_weight_overrides: tuple[tuple[str, float], ...] = ()
    # "anchored": the reference keypoints are moved so the reference root sits at the robot's root
    # (x, y and heading; height kept), so the term scores the posture and the root terms score drift.
    # "world": raw world positions.
    keypoint_frame: Literal["anchored", "world"] = "anchored"
    joint_limit_soft_fraction: float = 0.9  # the penalty starts at this fraction of each joint's range
    floor_clearance: float = 0.02  # m: a non-foot geom this close to the floor counts as a contact


TERMS = (
    "keypoint",
    "root_pos",
    "root_ori",
    "joint_pos",
    "joint_vel",
    "body_lin_vel",
    "body_ang_vel",
    "action_rate",
    "torque",
    "joint_limit",
    "undesired_contacts",
    "termination",
)


def weights(config: RewardConfig) -> dict[str, float]:
    return {name: float(getattr(config, name)) for name in TERMS}


def keypoint_weights(spec, config: RewardConfig) -> np.ndarray:
    """(K,) weights of `spec.keypoint_bodies` from group weights and per-body overrides."""
    # Groups not named keep the robot's default weight, so one group can be changed alone.
    groups = dict(zip(spec.keypoint_groups, np.asarray(spec.keypoint_weights, np.float64)))
    for group, weight in config.keypoint_group_weights or ():
        if group not in groups:
            raise ValueError(f"rewards.keypoint_group_weights names the group {group!r}, which the robot does not have; groups: {sorted(groups)}")
        groups[group] = float(weight)
    out = np.array([groups[g] for g in spec.keypoint_groups])
    for name, weight in config.keypoint_weight_overrides:
        if name not in spec.keypoint_bodies:
            raise ValueError(f"rewards.keypoint_weight_overrides names {name!r}, which is not a keypoint; keypoints: {list(spec.keypoint_bodies)}")
        out[spec.keypoint_bodies.index(name)] = float(weight)
    if np.any(out < 0) or out.sum() <= 0:
        raise ValueError(f"keypoint weights must be non-negative with a positive sum, got {out.tolist()}")
    return out.astype(np.float32)


# ------------------------------------------------------------------------------- the pure functions


def kernel(squared_error, sigma):
    return jnp.exp(-squared_error / (sigma * sigma))


def keypoint_tracking(pos, ref_pos, weights, sigma):
    """GenMimic's keypoint-weighted tracking reward; pos, ref_pos (K, 3), weights (K,)."""
    per_keypoint = kernel(jnp.sum(jnp.square(pos - ref_pos), axis=-1), sigma)
    return jnp.sum(weights * per_keypoint, axis=-1) / jnp.sum(weights)


def position_tracking(pos, ref_pos, sigma):
    return kernel(jnp.sum(jnp.square(pos - ref_pos), axis=-1), sigma)


def orientation_error(quat, ref_quat):
    """Angle (rad) of the rotation between two wxyz orientations."""
    delta = quat_multiply(quat_conjugate(ref_quat), quat)
    return jnp.linalg.norm(quat_to_axis_angle(delta), axis=-1)


def orientation_tracking(quat, ref_quat, sigma):
    return kernel(jnp.square(orientation_error(quat, ref_quat)), sigma)


def mean_square_tracking(x, ref, sigma):
    """exp(-mean((x - ref)^2) / sigma^2) over the last axis (joint angles or velocities)."""
    return kernel(jnp.mean(jnp.square(x - ref), axis=-1), sigma)


def body_velocity_tracking(vel, ref_vel, sigma):
    """exp(-mean_b |v_b - v^_b|^2 / sigma^2) for body velocities (B, 3)."""
    return kernel(jnp.mean(jnp.sum(jnp.square(vel - ref_vel), axis=-1), axis=-1), sigma)


def action_rate(action, last_action):
    return jnp.sum(jnp.square(action - last_action), axis=-1)


def torque(actuator_force, effort_limit):
    """Sum of squared actuator torques, each relative to its joint's peak torque."""
    return jnp.sum(jnp.square(actuator_force / effort_limit), axis=-1)


def joint_limit(joint_pos, low, high, soft_fraction):
    """Radians past the soft joint limits (the central `soft_fraction` of each range), summed."""
    centre, half = 0.5 * (low + high), 0.5 * (high - low) * soft_fraction
    return jnp.sum(jnp.maximum(joint_pos - (centre + half), 0.0) + jnp.maximum((centre - half) - joint_pos, 0.0), axis=-1)


def undesired_contacts(geom_lowest_z, clearance, self_contacts):
    """Non-foot geoms within `clearance` of the floor plus active self-collisions (a count)."""
    return jnp.sum(geom_lowest_z < clearance, axis=-1).astype(jnp.float32) + jnp.asarray(self_contacts, jnp.float32)


def termination(terminated):
    return terminated.astype(jnp.float32)


# ----------------------------------------------------------------------------------------- helpers


def anchor_reference(points, ref_root_pos, ref_root_quat, root_pos, root_quat):
    """Move reference points (..., 3) so the reference root's x, y and heading match the robot's root.

    Heights stay the reference's: a robot that sinks or tips is still penalised.
    """
    turn = quat_multiply(heading_quat(root_quat), quat_conjugate(heading_quat(ref_root_quat)))
    anchor = jnp.concatenate([root_pos[:2], ref_root_pos[2:3]])
    turn = jnp.broadcast_to(turn, points.shape[:-1] + (4,))
    return anchor + quat_rotate(turn, points - ref_root_pos)


@struct.dataclass
class RewardInputs:
    """Everything the reward terms read, for one env at one step."""

    keypoint_pos: jax.Array  # (K, 3) robot
    ref_keypoint_pos: jax.Array  # (K, 3) reference in the config's keypoint frame
    root_pos: jax.Array
    ref_root_pos: jax.Array
    root_quat: jax.Array
    ref_root_quat: jax.Array
    joint_pos: jax.Array
    ref_joint_pos: jax.Array
    joint_vel: jax.Array
    ref_joint_vel: jax.Array
    body_lin_vel: jax.Array  # (K, 3)
    ref_body_lin_vel: jax.Array
    body_ang_vel: jax.Array
    ref_body_ang_vel: jax.Array
    action: jax.Array
    last_action: jax.Array
    actuator_force: jax.Array
    geom_lowest_z: jax.Array  # (G,) non-foot geoms
    self_contacts: jax.Array  # () how many self-collisions are active
    terminated: jax.Array


def compute(inputs: RewardInputs, config: RewardConfig, keypoint_w, joint_low, joint_high, effort_limit) -> dict:
    """Raw (unweighted) value of every term in `TERMS`."""
    c = config
    return {
        "keypoint": keypoint_tracking(inputs.keypoint_pos, inputs.ref_keypoint_pos, keypoint_w, c.keypoint_sigma),
        "root_pos": position_tracking(inputs.root_pos, inputs.ref_root_pos, c.root_pos_sigma),
        "root_ori": orientation_tracking(inputs.root_quat, inputs.ref_root_quat, c.root_ori_sigma),
        "joint_pos": mean_square_tracking(inputs.joint_pos, inputs.ref_joint_pos, c.joint_pos_sigma),
        "joint_vel": mean_square_tracking(inputs.joint_vel, inputs.ref_joint_vel, c.joint_vel_sigma),
        "body_lin_vel": body_velocity_tracking(inputs.body_lin_vel, inputs.ref_body_lin_vel, c.body_lin_vel_sigma),
        "body_ang_vel": body_velocity_tracking(inputs.body_ang_vel, inputs.ref_body_ang_vel, c.body_ang_vel_sigma),
        "action_rate": action_rate(inputs.action, inputs.last_action),
        "torque": torque(inputs.actuator_force, effort_limit),
        "joint_limit": joint_limit(inputs.joint_pos, joint_low, joint_high, c.joint_limit_soft_fraction),
        "undesired_contacts": undesired_contacts(inputs.geom_lowest_z, c.floor_clearance, inputs.self_contacts),
        "termination": termination(inputs.terminated),
    }


def total(raw: dict, config: RewardConfig):
    """Weighted sum and the weighted contributions."""
    w = weights(config)
    weighted = {name: w[name] * raw[name] for name in TERMS}
    return sum(weighted.values()), weighted


__all__ = [
    "RewardConfig", "RewardInputs", "TERMS", "action_rate", "anchor_reference", "body_velocity_tracking", "compute",
    "heading_quat", "joint_limit", "kernel", "keypoint_tracking", "keypoint_weights", "mean_square_tracking",
    "orientation_error", "orientation_tracking", "position_tracking", "termination", "torque", "total",
    "undesired_contacts", "weights",
]  # fmt: skip
