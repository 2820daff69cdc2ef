"""The Unitree H1 (19 joints): keypoints and SMPL correspondence.

Physics and joint facts live in the MJCF (`assets/h1.xml`, written by `mjcf.py`); `robots.get("h1")`
reads them. The H1 has no wrist: its hands are the massless `*_hand_link` bodies at the ends of the
forearms.
"""

from __future__ import annotations

import numpy as np

from mimicjax.robots.base import RobotDefinition, SmplCorrespondence
from mimicjax.robots.h1 import mjcf

# Keypoints the tracking policy follows, with their group. GenMimic weighs end effectors most, then
# the upper body, and the lower body least. The hip keypoints are the hip pitch links: their origins
# sit on the thigh's axis, above the knees, where a person's hip joint is.
KEYPOINTS = (
    ("pelvis", "lower"),
    ("left_hip_pitch_link", "lower"),
    ("right_hip_pitch_link", "lower"),
    ("left_knee_link", "lower"),
    ("right_knee_link", "lower"),
    ("left_ankle_link", "end_effector"),
    ("right_ankle_link", "end_effector"),
    ("torso_link", "upper"),
    ("left_shoulder_roll_link", "upper"),
    ("right_shoulder_roll_link", "upper"),
    ("left_elbow_link", "upper"),
    ("right_elbow_link", "upper"),
    ("left_hand_link", "end_effector"),
    ("right_hand_link", "end_effector"),
)
KEYPOINT_GROUP_WEIGHTS = {"end_effector": 2.0, "upper": 1.0, "lower": 0.5}

# Where the wrist point sits on the forearm (both arms): 8 cm short of the hand, on the elbow-to-hand line.
_WRIST_FRACTION = 1.0 - 0.08 / float(np.linalg.norm(mjcf.HAND_OFFSET))
WRIST_OFFSET = tuple(round(_WRIST_FRACTION * c, 6) for c in mjcf.HAND_OFFSET)


# (site name, H1 body, offset in that body's frame, SMPL joint). The chest point sits on the torso at
# shoulder height, matching SMPL's spine3. With no wrist joint, the wrist and hand points both ride on
# the forearm: the wrist-to-hand bone turns with it.
SMPL = SmplCorrespondence(
    sites=(
        ("pelvis", "pelvis", (0.0, 0.0, 0.0), "pelvis"),
        ("left_hip", "left_hip_pitch_link", (0.0, 0.0, 0.0), "left_hip"),
        ("left_knee", "left_knee_link", (0.0, 0.0, 0.0), "left_knee"),
        ("left_ankle", "left_ankle_link", (0.0, 0.0, 0.0), "left_ankle"),
        ("right_hip", "right_hip_pitch_link", (0.0, 0.0, 0.0), "right_hip"),
        ("right_knee", "right_knee_link", (0.0, 0.0, 0.0), "right_knee"),
        ("right_ankle", "right_ankle_link", (0.0, 0.0, 0.0), "right_ankle"),
        ("chest", "torso_link", (0.0, 0.0, 0.44), "spine3"),
        ("left_shoulder", "left_shoulder_roll_link", (0.0, 0.0, 0.0), "left_shoulder"),
        ("left_elbow", "left_elbow_link", (0.0, 0.0, 0.0), "left_elbow"),
        ("left_wrist", "left_elbow_link", WRIST_OFFSET, "left_wrist"),
        ("left_hand", "left_hand_link", (0.0, 0.0, 0.0), "left_hand"),
        ("right_shoulder", "right_shoulder_roll_link", (0.0, 0.0, 0.0), "right_shoulder"),
        ("right_elbow", "right_elbow_link", (0.0, 0.0, 0.0), "right_elbow"),
        ("right_wrist", "right_elbow_link", WRIST_OFFSET, "right_wrist"),
        ("right_hand", "right_hand_link", (0.0, 0.0, 0.0), "right_hand"),
    ),
    # The feet follow the ankles. The hands are not oriented: without a wrist, the forearm cannot take
    # the human hand's orientation and its direction already follows the forearm bone.
    oriented=(
        ("pelvis", "pelvis", 1.0),
        ("torso_link", "spine3", 0.5),
        ("left_ankle_link", "left_ankle", 0.5),
        ("right_ankle_link", "right_ankle", 0.5),
    ),
    # Arms out sideways and straight (elbow 0 is a right angle on the H1), legs straight.
    tpose={"left_shoulder_roll_joint": np.pi / 2, "right_shoulder_roll_joint": -np.pi / 2,
           "left_elbow_joint": np.pi / 2, "right_elbow_joint": np.pi / 2},
)

ROBOTS = {
    "h1": RobotDefinition(
        name="h1",
        title="Unitree H1",
        mjcf=mjcf.ASSETS_DIR / mjcf.MODEL_FILE,
        keypoints=KEYPOINTS,
        keypoint_group_weights=KEYPOINT_GROUP_WEIGHTS,
        feet=("left_ankle_link", "right_ankle_link"),
        torso="torso_link",
        smpl=SMPL,
    ),
}
