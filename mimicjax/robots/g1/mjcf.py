"""The Unitree G1's facts, from which its MJCF (29-DoF and 23-DoF) is written to `assets/`.

The kinematic tree, joint axes and ranges, masses, centres of mass and inertias are the real robot's,
as published by Unitree in the MuJoCo Menagerie G1 model (facts; units SI, quaternions wxyz). Motor
armatures are the rotor inertias reflected through the gearboxes; effort limits are the motors' peak
torques. Collision primitives, contact pairs, PD gains and solver settings are the project's choices,
shared by every robot (`robots/mjcf_builder.py`).

The 23-DoF variant removes the six wrist joints: the wrist links stay, welded to the forearm, so mass
distribution and the hand keypoints are unchanged.

Regenerate the committed files with `python -m mimicjax.robots.g1.mjcf`; a test checks that they match.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mimicjax.robots.mjcf_builder import Design, Link, Motor, Shape, Site, build_xml, standing_pelvis_height

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
VARIANTS = ("29dof", "23dof")
WRIST_JOINTS = tuple(
    f"{side}_wrist_{axis}_joint" for side in ("left", "right") for axis in ("roll", "pitch", "yaw")
)

# Unitree's actuator families on the G1 (the ankle and waist pitch/roll joints are driven by two
# 5020 motors through a parallel linkage, hence the doubled rotor inertia).
MOTORS = {
    "7520_14": Motor(armature=0.01017752004, effort_limit=88.0),
    "7520_22": Motor(armature=0.025101925, effort_limit=139.0),
    "5020": Motor(armature=0.003609725, effort_limit=25.0),
    "2x5020": Motor(armature=0.00721945, effort_limit=50.0),
    "4010": Motor(armature=0.00425, effort_limit=5.0),
}

JOINT_MOTOR = {
    "hip_pitch": "7520_14",
    "hip_roll": "7520_22",
    "hip_yaw": "7520_14",
    "knee": "7520_22",
    "ankle_pitch": "2x5020",
    "ankle_roll": "2x5020",
    "waist_yaw": "7520_14",
    "waist_roll": "2x5020",
    "waist_pitch": "2x5020",
    "shoulder_pitch": "5020",
    "shoulder_roll": "5020",
    "shoulder_yaw": "5020",
    "elbow": "5020",
    "wrist_roll": "5020",
    "wrist_pitch": "4010",
    "wrist_yaw": "4010",
}

# The G1's links in depth-first order (the MJCF body order).
LINKS = (
    Link('pelvis', 'world', pos=(0.0, 0.0, 0.793), quat=(1.0, 0.0, 0.0, 0.0),
         mass=3.813, com=(0.0, 0.0, -0.07605), inertia_quat=(0.9999999, 0.0, -0.000399148, 0.0), inertia_diag=(0.010549, 0.0093089, 0.0079184),
         joint=None),
    Link('left_hip_pitch_link', 'pelvis', pos=(0.0, 0.064452, -0.1027), quat=(1.0, 0.0, 0.0, 0.0),
         mass=1.35, com=(0.002741, 0.047791, -0.02606), inertia_quat=(0.9548625, 0.2939641, 0.03025561, 0.03012201), inertia_diag=(0.00181517, 0.00153422, 0.00116212),
         joint='left_hip_pitch_joint'),
    Link('left_hip_roll_link', 'left_hip_pitch_link', pos=(0.0, 0.052, -0.030465), quat=(0.9961787, 0.0, -0.08733857, 0.0),
         mass=1.52, com=(0.029812, -0.001045, -0.087934), inertia_quat=(0.9778078, -1.97119e-05, 0.205576, -0.04037929), inertia_diag=(0.00254986, 0.00241169, 0.00148755),
         joint='left_hip_roll_joint'),
    Link('left_hip_yaw_link', 'left_hip_roll_link', pos=(0.025001, 0.0, -0.12412), quat=(1.0, 0.0, 0.0, 0.0),
         mass=1.702, com=(-0.057709, -0.010981, -0.15078), inertia_quat=(0.6005979, 0.15832, 0.223482, 0.7511809), inertia_diag=(0.00776166, 0.00717575, 0.00160139),
         joint='left_hip_yaw_joint'),
    Link('left_knee_link', 'left_hip_yaw_link', pos=(-0.078273, 0.0021489, -0.17734), quat=(0.9961787, 0.0, 0.08733857, 0.0),
         mass=1.932, com=(0.005457, 0.003964, -0.12074), inertia_quat=(0.9234179, -0.0327699, 0.0158246, 0.3820669), inertia_diag=(0.0113804, 0.0112778, 0.00146458),
         joint='left_knee_joint'),
    Link('left_ankle_pitch_link', 'left_knee_link', pos=(0.0, -9.4445e-05, -0.30001), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.074, com=(-0.007269, 0.0, 0.011137), inertia_quat=(0.603053, 0.369225, 0.369225, 0.603053), inertia_diag=(1.89e-05, 1.40805e-05, 6.9195e-06),
         joint='left_ankle_pitch_joint'),
    Link('left_ankle_roll_link', 'left_ankle_pitch_link', pos=(0.0, 0.0, -0.017558), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.608, com=(0.026505, 0.0, -0.016425), inertia_quat=(-0.0004810918, 0.7284817, -0.0006189668, 0.6850648), inertia_diag=(0.00167218, 0.0016161, 0.000217621),
         joint='left_ankle_roll_joint'),
    Link('right_hip_pitch_link', 'pelvis', pos=(0.0, -0.064452, -0.1027), quat=(1.0, 0.0, 0.0, 0.0),
         mass=1.35, com=(0.002741, -0.047791, -0.02606), inertia_quat=(0.9548625, -0.2939641, 0.03025561, -0.03012201), inertia_diag=(0.00181517, 0.00153422, 0.00116212),
         joint='right_hip_pitch_joint'),
    Link('right_hip_roll_link', 'right_hip_pitch_link', pos=(0.0, -0.052, -0.030465), quat=(0.9961787, 0.0, -0.08733857, 0.0),
         mass=1.52, com=(0.029812, 0.001045, -0.087934), inertia_quat=(0.9778078, 1.97119e-05, 0.205576, 0.04037929), inertia_diag=(0.00254986, 0.00241169, 0.00148755),
         joint='right_hip_roll_joint'),
    Link('right_hip_yaw_link', 'right_hip_roll_link', pos=(0.025001, 0.0, -0.12412), quat=(1.0, 0.0, 0.0, 0.0),
         mass=1.702, com=(-0.057709, 0.010981, -0.15078), inertia_quat=(0.7511809, 0.223482, 0.15832, 0.6005979), inertia_diag=(0.00776166, 0.00717575, 0.00160139),
         joint='right_hip_yaw_joint'),
    Link('right_knee_link', 'right_hip_yaw_link', pos=(-0.078273, -0.0021489, -0.17734), quat=(0.9961787, 0.0, 0.08733857, 0.0),
         mass=1.932, com=(0.005457, -0.003964, -0.12074), inertia_quat=(0.9234389, 0.0345276, 0.0116333, -0.382012), inertia_diag=(0.011374, 0.0112843, 0.00146452),
         joint='right_knee_joint'),
    Link('right_ankle_pitch_link', 'right_knee_link', pos=(0.0, 9.4445e-05, -0.30001), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.074, com=(-0.007269, 0.0, 0.011137), inertia_quat=(0.603053, 0.369225, 0.369225, 0.603053), inertia_diag=(1.89e-05, 1.40805e-05, 6.9195e-06),
         joint='right_ankle_pitch_joint'),
    Link('right_ankle_roll_link', 'right_ankle_pitch_link', pos=(0.0, 0.0, -0.017558), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.608, com=(0.026505, 0.0, -0.016425), inertia_quat=(0.0004810918, 0.7284817, 0.0006189668, 0.6850648), inertia_diag=(0.00167218, 0.0016161, 0.000217621),
         joint='right_ankle_roll_joint'),
    Link('waist_yaw_link', 'pelvis', pos=(0.0, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.214, com=(0.003494, 0.000233, 0.018034), inertia_quat=(0.289697, 0.591001, -0.337795, 0.672821), inertia_diag=(0.000163531, 0.000107714, 0.000102205),
         joint='waist_yaw_joint'),
    Link('waist_roll_link', 'waist_yaw_link', pos=(-0.0039635, 0.0, 0.044), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.086, com=(0.0, 2.3e-05, 0.0), inertia_quat=(0.5, 0.5, -0.5, 0.5), inertia_diag=(8.245e-06, 7.079e-06, 6.339e-06),
         joint='waist_roll_joint'),
    Link('torso_link', 'waist_roll_link', pos=(0.0, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=7.818, com=(0.00203158, 0.000339683, 0.184568), inertia_quat=(0.9998026, -6.033187e-05, 0.01982559, 0.001319859), inertia_diag=(0.121847, 0.109825, 0.0273735),
         joint='waist_pitch_joint'),
    Link('left_shoulder_pitch_link', 'torso_link', pos=(0.0039563, 0.10022, 0.24778), quat=(0.9902641, 0.139201, 1.38722e-05, -9.868681e-05),
         mass=0.718, com=(0.0, 0.035892, -0.011628), inertia_quat=(0.6541519, 0.0130458, -0.326267, 0.6822499), inertia_diag=(0.000465864, 0.000432842, 0.000406394),
         joint='left_shoulder_pitch_joint'),
    Link('left_shoulder_roll_link', 'left_shoulder_pitch_link', pos=(0.0, 0.038, -0.013831), quat=(0.9902682, -0.139172, 0.0, 0.0),
         mass=0.643, com=(-0.000227, 0.00727, -0.063243), inertia_quat=(0.701256, -0.0196223, -0.00710317, 0.712604), inertia_diag=(0.000691311, 0.000618011, 0.000388977),
         joint='left_shoulder_roll_joint'),
    Link('left_shoulder_yaw_link', 'left_shoulder_roll_link', pos=(0.0, 0.00624, -0.1032), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.734, com=(0.010773, -0.002949, -0.072009), inertia_quat=(0.7168787, -0.09648286, -0.06799417, 0.6871337), inertia_diag=(0.00106187, 0.00103217, 0.000400661),
         joint='left_shoulder_yaw_joint'),
    Link('left_elbow_link', 'left_shoulder_yaw_link', pos=(0.015783, 0.0, -0.080518), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.6, com=(0.064956, 0.004454, -0.010062), inertia_quat=(0.5417652, 0.6361323, 0.3888212, 0.3881292), inertia_diag=(0.000443035, 0.000421612, 0.000259353),
         joint='left_elbow_joint'),
    Link('left_wrist_roll_link', 'left_elbow_link', pos=(0.1, 0.00188791, -0.01), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.085445, com=(0.0171394, 0.000537591, 4.8864e-07), inertia_quat=(0.5753384, 0.4116673, -0.5749064, 0.4110943), inertia_diag=(5.48211e-05, 4.96646e-05, 3.57798e-05),
         joint='left_wrist_roll_joint'),
    Link('left_wrist_pitch_link', 'left_wrist_roll_link', pos=(0.038, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.48405, com=(0.0229999, -0.00111685, -0.00111658), inertia_quat=(0.2499978, 0.6613625, 0.2930358, 0.6436076), inertia_diag=(0.000430353, 0.000429873, 0.000164648),
         joint='left_wrist_pitch_joint'),
    Link('left_wrist_yaw_link', 'left_wrist_pitch_link', pos=(0.046, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.254576, com=(0.0708244, 0.000191745, 0.00161742), inertia_quat=(0.5105708, 0.5262948, 0.4680779, 0.4931879), inertia_diag=(0.000646113, 0.000559993, 0.000147566),
         joint='left_wrist_yaw_joint'),
    Link('right_shoulder_pitch_link', 'torso_link', pos=(0.0039563, -0.10021, 0.24778), quat=(0.9902641, -0.139201, 1.38722e-05, 9.868681e-05),
         mass=0.718, com=(0.0, -0.035892, -0.011628), inertia_quat=(0.6822499, -0.326267, 0.0130458, 0.6541519), inertia_diag=(0.000465864, 0.000432842, 0.000406394),
         joint='right_shoulder_pitch_joint'),
    Link('right_shoulder_roll_link', 'right_shoulder_pitch_link', pos=(0.0, -0.038, -0.013831), quat=(0.9902682, 0.139172, 0.0, 0.0),
         mass=0.643, com=(-0.000227, -0.00727, -0.063243), inertia_quat=(0.712604, -0.00710317, -0.0196223, 0.701256), inertia_diag=(0.000691311, 0.000618011, 0.000388977),
         joint='right_shoulder_roll_joint'),
    Link('right_shoulder_yaw_link', 'right_shoulder_roll_link', pos=(0.0, -0.00624, -0.1032), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.734, com=(0.010773, 0.002949, -0.072009), inertia_quat=(0.6871337, -0.06799417, -0.09648286, 0.7168787), inertia_diag=(0.00106187, 0.00103217, 0.000400661),
         joint='right_shoulder_yaw_joint'),
    Link('right_elbow_link', 'right_shoulder_yaw_link', pos=(0.015783, 0.0, -0.080518), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.6, com=(0.064956, -0.004454, -0.010062), inertia_quat=(0.3881292, 0.3888212, 0.6361323, 0.5417652), inertia_diag=(0.000443035, 0.000421612, 0.000259353),
         joint='right_elbow_joint'),
    Link('right_wrist_roll_link', 'right_elbow_link', pos=(0.1, -0.00188791, -0.01), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.085445, com=(0.0171394, -0.000537591, 4.8864e-07), inertia_quat=(0.4116673, 0.5753384, -0.4110943, 0.5749064), inertia_diag=(5.48211e-05, 4.96646e-05, 3.57798e-05),
         joint='right_wrist_roll_joint'),
    Link('right_wrist_pitch_link', 'right_wrist_roll_link', pos=(0.038, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.48405, com=(0.0229999, 0.00111685, -0.00111658), inertia_quat=(0.6436076, 0.2930358, 0.6613625, 0.2499978), inertia_diag=(0.000430353, 0.000429873, 0.000164648),
         joint='right_wrist_pitch_joint'),
    Link('right_wrist_yaw_link', 'right_wrist_pitch_link', pos=(0.046, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.254576, com=(0.0708244, -0.000191745, 0.00161742), inertia_quat=(0.4931879, 0.4680779, 0.5262948, 0.5105708), inertia_diag=(0.000646113, 0.000559993, 0.000147566),
         joint='right_wrist_yaw_joint'),
)

# Joint axis (in the link frame) and range (rad). The joint sits at the link origin.
JOINTS = {
    'left_hip_pitch_joint': ((0.0, 1.0, 0.0), (-2.5307, 2.8798)),
    'left_hip_roll_joint': ((1.0, 0.0, 0.0), (-0.5236, 2.9671)),
    'left_hip_yaw_joint': ((0.0, 0.0, 1.0), (-2.7576, 2.7576)),
    'left_knee_joint': ((0.0, 1.0, 0.0), (-0.087267, 2.8798)),
    'left_ankle_pitch_joint': ((0.0, 1.0, 0.0), (-0.87267, 0.5236)),
    'left_ankle_roll_joint': ((1.0, 0.0, 0.0), (-0.2618, 0.2618)),
    'right_hip_pitch_joint': ((0.0, 1.0, 0.0), (-2.5307, 2.8798)),
    'right_hip_roll_joint': ((1.0, 0.0, 0.0), (-2.9671, 0.5236)),
    'right_hip_yaw_joint': ((0.0, 0.0, 1.0), (-2.7576, 2.7576)),
    'right_knee_joint': ((0.0, 1.0, 0.0), (-0.087267, 2.8798)),
    'right_ankle_pitch_joint': ((0.0, 1.0, 0.0), (-0.87267, 0.5236)),
    'right_ankle_roll_joint': ((1.0, 0.0, 0.0), (-0.2618, 0.2618)),
    'waist_yaw_joint': ((0.0, 0.0, 1.0), (-2.618, 2.618)),
    'waist_roll_joint': ((1.0, 0.0, 0.0), (-0.52, 0.52)),
    'waist_pitch_joint': ((0.0, 1.0, 0.0), (-0.52, 0.52)),
    'left_shoulder_pitch_joint': ((0.0, 1.0, 0.0), (-3.0892, 2.6704)),
    'left_shoulder_roll_joint': ((1.0, 0.0, 0.0), (-1.5882, 2.2515)),
    'left_shoulder_yaw_joint': ((0.0, 0.0, 1.0), (-2.618, 2.618)),
    'left_elbow_joint': ((0.0, 1.0, 0.0), (-1.0472, 2.0944)),
    'left_wrist_roll_joint': ((1.0, 0.0, 0.0), (-1.97222, 1.97222)),
    'left_wrist_pitch_joint': ((0.0, 1.0, 0.0), (-1.61443, 1.61443)),
    'left_wrist_yaw_joint': ((0.0, 0.0, 1.0), (-1.61443, 1.61443)),
    'right_shoulder_pitch_joint': ((0.0, 1.0, 0.0), (-3.0892, 2.6704)),
    'right_shoulder_roll_joint': ((1.0, 0.0, 0.0), (-2.2515, 1.5882)),
    'right_shoulder_yaw_joint': ((0.0, 0.0, 1.0), (-2.618, 2.618)),
    'right_elbow_joint': ((0.0, 1.0, 0.0), (-1.0472, 2.0944)),
    'right_wrist_roll_joint': ((1.0, 0.0, 0.0), (-1.97222, 1.97222)),
    'right_wrist_pitch_joint': ((0.0, 1.0, 0.0), (-1.61443, 1.61443)),
    'right_wrist_yaw_joint': ((0.0, 0.0, 1.0), (-1.61443, 1.61443)),
}


# Primitive shapes per link, keyed by the link name without its side prefix. Sizes follow the links'
# extents (joint to joint) and the real robot's limb thickness.
SHAPES = {
    "pelvis": (Shape("pelvis", "capsule", 0.055, (0.0, -0.05, -0.07), (0.0, 0.05, -0.07)),),
    "hip_pitch_link": (Shape("hip_pitch", "capsule", 0.04, (0.0, 0.02, -0.01), (0.0, 0.05, -0.03)),),
    "hip_roll_link": (Shape("hip", "capsule", 0.05, (0.02, 0.0, 0.0), (0.02, 0.0, -0.08)),),
    "hip_yaw_link": (Shape("thigh", "capsule", 0.055, (0.0, 0.0, -0.03), (-0.06, 0.0, -0.16)),),
    "knee_link": (Shape("shin", "capsule", 0.042, (0.01, 0.0, -0.02), (0.01, 0.0, -0.26)),),
    "ankle_roll_link": (
        Shape("foot", "capsule", 0.022, (-0.035, 0.0, -0.012), (0.105, 0.0, -0.012)),
        # Sole contact points: heel and toe corners, as on the real foot's rubber pads.
        Shape("sole_heel_inner", "sphere", 0.005, (-0.05, -0.025, -0.03)),
        Shape("sole_heel_outer", "sphere", 0.005, (-0.05, 0.025, -0.03)),
        Shape("sole_toe_inner", "sphere", 0.005, (0.12, -0.03, -0.03)),
        Shape("sole_toe_outer", "sphere", 0.005, (0.12, 0.03, -0.03)),
    ),
    "torso_link": (
        Shape("torso", "capsule", 0.09, (0.0, 0.0, 0.06), (0.0, 0.0, 0.22)),
        Shape("head", "sphere", 0.07, (0.01, 0.0, 0.41)),
    ),
    "shoulder_pitch_link": (Shape("shoulder", "sphere", 0.04, (0.0, 0.03, -0.01)),),
    "shoulder_roll_link": (
        Shape("upper_arm_top", "capsule", 0.035, (0.0, 0.006, -0.02), (0.0, 0.006, -0.09)),
    ),
    "shoulder_yaw_link": (Shape("upper_arm", "capsule", 0.032, (0.0, 0.0, 0.0), (0.015, 0.0, -0.08)),),
    "elbow_link": (Shape("forearm", "capsule", 0.03, (0.0, 0.0, 0.0), (0.1, 0.0019, -0.01)),),
    "wrist_pitch_link": (Shape("wrist", "capsule", 0.03, (0.0, 0.0, 0.0), (0.046, 0.0, 0.0)),),
    "wrist_yaw_link": (Shape("hand", "capsule", 0.035, (0.03, 0.0, 0.0), (0.13, 0.0, 0.0)),),
}

SOLE_POINTS = ("sole_heel_inner", "sole_heel_outer", "sole_toe_inner", "sole_toe_outer")
# Self-collision pairs (condim 1: no friction, only non-penetration) for the contacts that whole-body
# motions actually make.
SELF_COLLISION_PAIRS = (
    ("left_shin", "right_shin"),
    ("left_thigh", "right_thigh"),
    ("left_hand", "right_hand"),
    ("left_hand", "left_thigh"),
    ("right_hand", "right_thigh"),
    ("left_hand", "torso"),
    ("right_hand", "torso"),
    ("left_forearm", "torso"),
    ("right_forearm", "torso"),
)

# Default pose: knees slightly bent, arms relaxed; the `stand` keyframe and the PD targets at rest.
DEFAULT_JOINT_POS = {
    "hip_pitch": -0.312,
    "knee": 0.669,
    "ankle_pitch": -0.363,
    "shoulder_pitch": 0.2,
    "left_shoulder_roll": 0.2,
    "right_shoulder_roll": -0.2,
    "elbow": 0.9,
}

DESIGN = Design(
    model_name="g1",
    title="Unitree G1",
    regenerate_command="python -m mimicjax.robots.g1.mjcf",
    links=LINKS,
    joints=JOINTS,
    motors=MOTORS,
    motor_of_joint=JOINT_MOTOR,
    shapes=SHAPES,
    sole_link="ankle_roll_link",
    sole_points=SOLE_POINTS,
    self_collision_pairs=SELF_COLLISION_PAIRS,
    default_joint_pos=DEFAULT_JOINT_POS,
    sites=(
        Site("imu_in_pelvis", "pelvis", (0.04525, 0.0, -0.08339)),
        Site("imu_in_torso", "torso_link", (-0.03959, -0.00224, 0.14792)),
        Site("left_foot", "left_ankle_roll_link", (0.035, 0.0, -0.035)),
        Site("right_foot", "right_ankle_roll_link", (0.035, 0.0, -0.035)),
    ),
)


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown G1 variant {variant!r}; choose one of {', '.join(repr(v) for v in VARIANTS)}")


def joint_names(variant: str) -> tuple[str, ...]:
    """Actuated joints of a variant, in MJCF order."""
    check_variant(variant)
    names = DESIGN.joint_order
    return names if variant == "29dof" else tuple(n for n in names if n not in WRIST_JOINTS)


def variant_xml(variant: str, pelvis_height: float | None = None) -> str:
    """The MJCF text of the G1 `variant` standing on a flat floor."""
    from dataclasses import replace

    design = replace(DESIGN, model_name=f"g1_{variant}", title=f"Unitree G1 ({variant.replace('dof', '-DoF')})")
    actuated = joint_names(variant)
    if pelvis_height is None:
        pelvis_height = standing_pelvis_height(design, actuated)
    return build_xml(design, actuated, pelvis_height)


def write_assets(out_dir: Path = ASSETS_DIR) -> list[Path]:
    from mimicjax.io_utils import atomic_write_text

    written = []
    for variant in VARIANTS:
        path = out_dir / f"g1_{variant}.xml"
        atomic_write_text(path, variant_xml(variant))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_assets(Path(sys.argv[1]) if len(sys.argv) > 1 else ASSETS_DIR):
        print(f"wrote {path}")
