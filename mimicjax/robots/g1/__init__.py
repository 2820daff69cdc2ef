"""The Unitree G1 (29-DoF and 23-DoF): keypoints, SMPL correspondence and file joint orders.

Physics and joint facts live in the MJCF (`assets/g1_<variant>.xml`, written by `mjcf.py`);
`robots.get("g1_29dof")` reads them.
"""

from __future__ import annotations

import numpy as np

from mimicjax.robots.base import RobotDefinition, SmplCorrespondence
from mimicjax.robots.g1 import mjcf

# Keypoints the tracking policy follows, with their group. GenMimic weighs end effectors most, then
# the upper body, and the lower body least.
KEYPOINTS = (
    ("pelvis", "lower"),
    ("left_hip_roll_link", "lower"),
    ("right_hip_roll_link", "lower"),
    ("left_knee_link", "lower"),
    ("right_knee_link", "lower"),
    ("left_ankle_roll_link", "end_effector"),
    ("right_ankle_roll_link", "end_effector"),
    ("torso_link", "upper"),
    ("left_shoulder_roll_link", "upper"),
    ("right_shoulder_roll_link", "upper"),
    ("left_elbow_link", "upper"),
    ("right_elbow_link", "upper"),
    ("left_wrist_yaw_link", "end_effector"),
    ("right_wrist_yaw_link", "end_effector"),
)
KEYPOINT_GROUP_WEIGHTS = {"end_effector": 2.0, "upper": 1.0, "lower": 0.5}

# (site name, G1 body, offset in that body's frame, SMPL joint). The chest point sits on the torso at
# shoulder height, matching SMPL's spine3; the hand point is the G1's last wrist body (rigid in the 23-DoF).
SMPL = SmplCorrespondence(
    sites=(
        ("pelvis", "pelvis", (0.0, 0.0, 0.0), "pelvis"),
        ("left_hip", "left_hip_roll_link", (0.0, 0.0, 0.0), "left_hip"),
        ("left_knee", "left_knee_link", (0.0, 0.0, 0.0), "left_knee"),
        ("left_ankle", "left_ankle_roll_link", (0.0, 0.0, 0.0), "left_ankle"),
        ("right_hip", "right_hip_roll_link", (0.0, 0.0, 0.0), "right_hip"),
        ("right_knee", "right_knee_link", (0.0, 0.0, 0.0), "right_knee"),
        ("right_ankle", "right_ankle_roll_link", (0.0, 0.0, 0.0), "right_ankle"),
        ("chest", "torso_link", (0.0, 0.0, 0.25), "spine3"),
        ("left_shoulder", "left_shoulder_roll_link", (0.0, 0.0, 0.0), "left_shoulder"),
        ("left_elbow", "left_elbow_link", (0.0, 0.0, 0.0), "left_elbow"),
        ("left_wrist", "left_wrist_roll_link", (0.0, 0.0, 0.0), "left_wrist"),
        ("left_hand", "left_wrist_yaw_link", (0.0, 0.0, 0.0), "left_hand"),
        ("right_shoulder", "right_shoulder_roll_link", (0.0, 0.0, 0.0), "right_shoulder"),
        ("right_elbow", "right_elbow_link", (0.0, 0.0, 0.0), "right_elbow"),
        ("right_wrist", "right_wrist_roll_link", (0.0, 0.0, 0.0), "right_wrist"),
        ("right_hand", "right_wrist_yaw_link", (0.0, 0.0, 0.0), "right_hand"),
    ),
    # The feet follow the ankles, the hands (lightly) the wrists.
    oriented=(
        ("pelvis", "pelvis", 1.0),
        ("torso_link", "spine3", 0.5),
        ("left_ankle_roll_link", "left_ankle", 0.5),
        ("right_ankle_roll_link", "right_ankle", 0.5),
        ("left_wrist_yaw_link", "left_wrist", 0.1),
        ("right_wrist_yaw_link", "right_wrist", 0.1),
    ),
    # Arms out sideways and straight (elbow 0 is a right angle on the G1), legs straight.
    tpose={"left_shoulder_roll_joint": np.pi / 2, "right_shoulder_roll_joint": -np.pi / 2,
           "left_elbow_joint": np.pi / 2, "right_elbow_joint": np.pi / 2},
)

# Isaac Lab's articulation order for the 29-DoF G1 (breadth-first over the kinematic tree), used by
# Isaac Lab BeyondMimic npz files.
ISAACLAB_JOINT_ORDER_29 = (
    "left_hip_pitch_joint", "right_hip_pitch_joint", "waist_yaw_joint",
    "left_hip_roll_joint", "right_hip_roll_joint", "waist_roll_joint",
    "left_hip_yaw_joint", "right_hip_yaw_joint", "waist_pitch_joint",
    "left_knee_joint", "right_knee_joint", "left_shoulder_pitch_joint", "right_shoulder_pitch_joint",
    "left_ankle_pitch_joint", "right_ankle_pitch_joint", "left_shoulder_roll_joint", "right_shoulder_roll_joint",
    "left_ankle_roll_joint", "right_ankle_roll_joint", "left_shoulder_yaw_joint", "right_shoulder_yaw_joint",
    "left_elbow_joint", "right_elbow_joint", "left_wrist_roll_joint", "right_wrist_roll_joint",
    "left_wrist_pitch_joint", "right_wrist_pitch_joint", "left_wrist_yaw_joint", "right_wrist_yaw_joint",
)  # fmt: skip


def _definition(variant: str) -> RobotDefinition:
    orders = {"isaaclab": ISAACLAB_JOINT_ORDER_29} if variant == "29dof" else {}
    return RobotDefinition(
        name=f"g1_{variant}",
        title=f"Unitree G1 ({variant.replace('dof', '-DoF')})",
        mjcf=mjcf.ASSETS_DIR / f"g1_{variant}.xml",
        keypoints=KEYPOINTS,
        keypoint_group_weights=KEYPOINT_GROUP_WEIGHTS,
        feet=("left_ankle_roll_link", "right_ankle_roll_link"),
        torso="torso_link",
        smpl=SMPL,
        file_joint_orders=orders,
    )


ROBOTS = {f"g1_{variant}": _definition(variant) for variant in mjcf.VARIANTS}
