"""How good a retargeted robot clip is: keypoint error, limb directions, joint limits, feet, jitter. Numpy."""

from __future__ import annotations

import numpy as np

from mimicjax.retarget.correspondence import RobotGeometry


def limb_angles_deg(geometry: RobotGeometry, robot_sites: np.ndarray, human_joints: np.ndarray) -> dict[str, float]:
    """Mean angle (degrees) between each robot limb and the human's matching limb, over frames.

    robot_sites (T, S, 3) in `geometry.site_names` order; human_joints (T, 24, 3) SMPL joints in the same
    world frame.
    """
    out = {}
    for limb, (a, b) in geometry.limbs.items():
        robot = robot_sites[:, b] - robot_sites[:, a]
        human = human_joints[:, geometry.site_smpl[b]] - human_joints[:, geometry.site_smpl[a]]
        cos = np.sum(robot * human, -1) / (np.linalg.norm(robot, axis=-1) * np.linalg.norm(human, axis=-1))
        out[limb] = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean())
    return out


def joint_limit_violations(joint_pos: np.ndarray, joint_range: np.ndarray, tolerance: float = 0.0) -> int:
    """Number of (frame, joint) values outside the range by more than `tolerance` radians."""
    return int(np.sum((joint_pos < joint_range[:, 0] - tolerance) | (joint_pos > joint_range[:, 1] + tolerance)))


def jitter(joint_pos: np.ndarray, fps: float) -> float:
    """Mean absolute joint acceleration (rad/s^2) by second differences."""
    if len(joint_pos) < 3:
        return 0.0
    return float(np.abs(np.diff(joint_pos, n=2, axis=0)).mean() * fps**2)


def clip_report(geometry: RobotGeometry, robot_sites, goal_sites, human_joints, joint_pos, sole_heights, fps) -> dict:
    """The per-clip figures the retarget command prints and stores."""
    error = np.linalg.norm(robot_sites - goal_sites, axis=-1)
    limbs = limb_angles_deg(geometry, robot_sites, human_joints)
    return {
        "frames": int(joint_pos.shape[0]),
        "fps": float(fps),
        "keypoint_error_mean_m": float(error.mean()),
        "keypoint_error_max_m": float(error.max()),
        "limb_angle_mean_deg": float(np.mean(list(limbs.values()))),
        "limb_angle_deg": limbs,
        "joint_limit_violations": joint_limit_violations(joint_pos, geometry.joint_range),
        "foot_penetration_max_m": float(max(0.0, -np.min(sole_heights))),
        "jitter_rad_s2": jitter(joint_pos, fps),
    }


def clip_limb_angles_deg(motion, robot, human_joints: np.ndarray, heading_turn: float = 0.0) -> dict[str, float]:
    """`limb_angles_deg` for any clip of `robot` (e.g. another tool's retarget of the same human clip).

    human_joints are in the frame of a retarget whose first frame was turned by `heading_turn` (yaw,
    radians; `ClipTargets.heading_turn`); the clip is turned the same way before comparing directions.
    """
    from scipy.spatial.transform import Rotation

    from mimicjax.retarget.correspondence import robot_geometry

    geometry = robot_geometry(robot)
    pos, quat = robot.body_poses(motion.root_pos, motion.root_quat, motion.joint_pos)
    rot = Rotation.from_quat(quat[:, geometry.site_body][..., [1, 2, 3, 0]].reshape(-1, 4))
    sites = pos[:, geometry.site_body] + rot.apply(np.tile(geometry.site_offset, (len(pos), 1))).reshape(pos.shape[0], -1, 3)
    sites = sites @ Rotation.from_euler("z", heading_turn).as_matrix().T
    count = min(len(sites), len(human_joints))
    return limb_angles_deg(geometry, sites[:count], human_joints[:count])


__all__ = ["clip_limb_angles_deg", "clip_report", "jitter", "joint_limit_violations", "limb_angles_deg"]
