"""The Unitree H1's facts, from which its MJCF is written to `assets/h1.xml`.

Sources:

* Kinematic tree, joint axes and ranges, masses, centres of mass and inertias: the real robot's, as
  published by Unitree (URDF, BSD-3-Clause) and carried into the MuJoCo Menagerie H1 model
  (`unitree_h1/h1.xml`); units SI, quaternions wxyz. Joint and link names are Unitree's.
* Peak torques: the actuator ranges the Menagerie model states (hip 200 N m, knee 300 N m, torso
  200 N m, ankle 40 N m, shoulder pitch/roll 40 N m, shoulder yaw and elbow 18 N m), which are also
  the effort limits of Unitree's URDF.
* Armature: Unitree publishes no rotor inertias for the H1; the Menagerie model gives every joint
  0.1 kg m^2, which this model keeps. That value sits between the reflected inertias of the M107
  leg motors (0.063 and 0.160 kg m^2 in Unitree's H1-2 motor parameters), so the armature rule of
  `robots/mjcf_builder.py` (10 Hz) gives leg gains of the published H1 setups' order (kp 395 against
  150-300). For the much smaller ankle and arm motors 0.1 is far above their rotors, and 10 Hz would
  give kp 395 where published H1 setups use 40 for the ankle (Unitree's legged_gym H1 configuration)
  and 40-150 for the arms (Isaac Lab's H1: 40), and a unit action would reach only 0.01-0.03 rad;
  those motors run at 3.2 Hz instead (kp 40, kd 8; action scale 0.11-0.25 rad).

The H1 has no wrist: its forearm ends in a rounded cap. A massless `*_hand_link` body, welded to the
elbow link at the centre of that cap, gives the hand a body of its own (keypoints are body origins).

Collision primitives, contact pairs, the default pose, sites and solver settings are the project's
choices (`robots/mjcf_builder.py`). Regenerate the committed file with `python -m mimicjax.robots.h1.mjcf`;
a test checks that it matches.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mimicjax.robots.mjcf_builder import Design, Link, Motor, Shape, Site, build_xml, standing_pelvis_height

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MODEL_FILE = "h1.xml"

# Armature the Menagerie model gives every H1 joint (kg m^2); see the module docstring.
MENAGERIE_ARMATURE = 0.1
# Natural frequency of the ankle and arm PD loops: kp = 0.1 (2 pi 3.2)^2 = 40 N m/rad.
SMALL_MOTOR_FREQUENCY_HZ = 3.2

MOTORS = {
    "hip": Motor(armature=MENAGERIE_ARMATURE, effort_limit=200.0),
    "knee": Motor(armature=MENAGERIE_ARMATURE, effort_limit=300.0),
    "torso": Motor(armature=MENAGERIE_ARMATURE, effort_limit=200.0),
    "ankle": Motor(armature=MENAGERIE_ARMATURE, effort_limit=40.0, natural_frequency_hz=SMALL_MOTOR_FREQUENCY_HZ),
    "shoulder": Motor(armature=MENAGERIE_ARMATURE, effort_limit=40.0, natural_frequency_hz=SMALL_MOTOR_FREQUENCY_HZ),
    "arm": Motor(armature=MENAGERIE_ARMATURE, effort_limit=18.0, natural_frequency_hz=SMALL_MOTOR_FREQUENCY_HZ),
}

JOINT_MOTOR = {
    "hip_yaw": "hip",
    "hip_roll": "hip",
    "hip_pitch": "hip",
    "knee": "knee",
    "ankle": "ankle",
    "torso": "torso",
    "shoulder_pitch": "shoulder",
    "shoulder_roll": "shoulder",
    "shoulder_yaw": "arm",
    "elbow": "arm",
}

# Where the hand link sits on the elbow link: the centre of the forearm's end cap (on the forearm's
# axis, y = 0, so the same for both arms).
HAND_OFFSET = (0.28, 0.0, -0.015)
_NO_INERTIA = dict(mass=0.0, com=(0.0, 0.0, 0.0), inertia_quat=(1.0, 0.0, 0.0, 0.0), inertia_diag=(0.0, 0.0, 0.0))

# The H1's links in depth-first order (the MJCF body order).
LINKS = (
    Link('pelvis', 'world', pos=(0.0, 0.0, 1.06), quat=(1.0, 0.0, 0.0, 0.0),
         mass=5.39, com=(-0.0002, 4e-05, -0.04522), inertia_quat=(0.498303, 0.499454, -0.500496, 0.501741), inertia_diag=(0.0490211, 0.0445821, 0.00824619),
         joint=None),
    Link('left_hip_yaw_link', 'pelvis', pos=(0.0, 0.0875, -0.1742), quat=(1.0, 0.0, 0.0, 0.0),
         mass=2.244, com=(-0.04923, 0.0001, 0.0072), inertia_quat=(0.69699, 0.219193, 0.233287, 0.641667), inertia_diag=(0.00304494, 0.00296885, 0.00189201),
         joint='left_hip_yaw_joint'),
    Link('left_hip_roll_link', 'left_hip_yaw_link', pos=(0.039468, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=2.232, com=(-0.0058, -0.00319, -9e-05), inertia_quat=(0.0438242, 0.70721, -0.0729075, 0.701867), inertia_diag=(0.00243264, 0.00225325, 0.00205492),
         joint='left_hip_roll_joint'),
    Link('left_hip_pitch_link', 'left_hip_roll_link', pos=(0.0, 0.11536, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=4.152, com=(0.00746, -0.02346, -0.08193), inertia_quat=(0.979828, 0.0513522, -0.0169854, -0.192382), inertia_diag=(0.0829503, 0.0821457, 0.00510909),
         joint='left_hip_pitch_joint'),
    Link('left_knee_link', 'left_hip_pitch_link', pos=(0.0, 0.0, -0.4), quat=(1.0, 0.0, 0.0, 0.0),
         mass=1.721, com=(-0.00136, -0.00512, -0.1384), inertia_quat=(0.626132, -0.034227, -0.0416277, 0.777852), inertia_diag=(0.0125237, 0.0123104, 0.0019428),
         joint='left_knee_joint'),
    Link('left_ankle_link', 'left_knee_link', pos=(0.0, 0.0, -0.4), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.446, com=(0.06722, 0.00015, -0.04497), inertia_quat=(0.489101, 0.503197, 0.565782, 0.432972), inertia_diag=(0.00220848, 0.00218961, 0.000214202),
         joint='left_ankle_joint'),
    Link('right_hip_yaw_link', 'pelvis', pos=(0.0, -0.0875, -0.1742), quat=(1.0, 0.0, 0.0, 0.0),
         mass=2.244, com=(-0.04923, -0.0001, 0.0072), inertia_quat=(0.641667, 0.233287, 0.219193, 0.69699), inertia_diag=(0.00304494, 0.00296885, 0.00189201),
         joint='right_hip_yaw_joint'),
    Link('right_hip_roll_link', 'right_hip_yaw_link', pos=(0.039468, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=2.232, com=(-0.0058, 0.00319, -9e-05), inertia_quat=(-0.0438242, 0.70721, 0.0729075, 0.701867), inertia_diag=(0.00243264, 0.00225325, 0.00205492),
         joint='right_hip_roll_joint'),
    Link('right_hip_pitch_link', 'right_hip_roll_link', pos=(0.0, -0.11536, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=4.152, com=(0.00746, 0.02346, -0.08193), inertia_quat=(0.979828, -0.0513522, -0.0169854, 0.192382), inertia_diag=(0.0829503, 0.0821457, 0.00510909),
         joint='right_hip_pitch_joint'),
    Link('right_knee_link', 'right_hip_pitch_link', pos=(0.0, 0.0, -0.4), quat=(1.0, 0.0, 0.0, 0.0),
         mass=1.721, com=(-0.00136, 0.00512, -0.1384), inertia_quat=(0.777852, -0.0416277, -0.034227, 0.626132), inertia_diag=(0.0125237, 0.0123104, 0.0019428),
         joint='right_knee_joint'),
    Link('right_ankle_link', 'right_knee_link', pos=(0.0, 0.0, -0.4), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.446, com=(0.06722, -0.00015, -0.04497), inertia_quat=(0.432972, 0.565782, 0.503197, 0.489101), inertia_diag=(0.00220848, 0.00218961, 0.000214202),
         joint='right_ankle_joint'),
    Link('torso_link', 'pelvis', pos=(0.0, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0),
         mass=17.789, com=(0.000489, 0.002797, 0.20484), inertia_quat=(0.999989, -0.00130808, -0.00282289, -0.00349105), inertia_diag=(0.487315, 0.409628, 0.127837),
         joint='torso_joint'),
    Link('left_shoulder_pitch_link', 'torso_link', pos=(0.0055, 0.15535, 0.42999), quat=(0.976296, 0.216438, 0.0, 0.0),
         mass=1.033, com=(0.005045, 0.053657, -0.015715), inertia_quat=(0.814858, 0.579236, -0.0201072, -0.00936488), inertia_diag=(0.00129936, 0.000987113, 0.000858198),
         joint='left_shoulder_pitch_joint'),
    Link('left_shoulder_roll_link', 'left_shoulder_pitch_link', pos=(-0.0055, 0.0565, -0.0165), quat=(0.976296, -0.216438, 0.0, 0.0),
         mass=0.793, com=(0.000679, 0.00115, -0.094076), inertia_quat=(0.732491, 0.00917179, 0.0766656, 0.676384), inertia_diag=(0.00170388, 0.00158256, 0.00100336),
         joint='left_shoulder_roll_joint'),
    Link('left_shoulder_yaw_link', 'left_shoulder_roll_link', pos=(0.0, 0.0, -0.1343), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.839, com=(0.01365, 0.002767, -0.16266), inertia_quat=(0.703042, -0.0331229, -0.0473362, 0.708798), inertia_diag=(0.00408038, 0.00370367, 0.000622687),
         joint='left_shoulder_yaw_joint'),
    Link('left_elbow_link', 'left_shoulder_yaw_link', pos=(0.0185, 0.0, -0.198), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.669, com=(0.15908, -0.000144, -0.015776), inertia_quat=(0.0765232, 0.720327, 0.0853116, 0.684102), inertia_diag=(0.00601829, 0.00600579, 0.000408305),
         joint='left_elbow_joint'),
    Link('left_hand_link', 'left_elbow_link', pos=HAND_OFFSET, quat=(1.0, 0.0, 0.0, 0.0), **_NO_INERTIA, joint=None),
    Link('right_shoulder_pitch_link', 'torso_link', pos=(0.0055, -0.15535, 0.42999), quat=(0.976296, -0.216438, 0.0, 0.0),
         mass=1.033, com=(0.005045, -0.053657, -0.015715), inertia_quat=(0.579236, 0.814858, 0.00936488, 0.0201072), inertia_diag=(0.00129936, 0.000987113, 0.000858198),
         joint='right_shoulder_pitch_joint'),
    Link('right_shoulder_roll_link', 'right_shoulder_pitch_link', pos=(-0.0055, -0.0565, -0.0165), quat=(0.976296, 0.216438, 0.0, 0.0),
         mass=0.793, com=(0.000679, -0.00115, -0.094076), inertia_quat=(0.676384, 0.0766656, 0.00917179, 0.732491), inertia_diag=(0.00170388, 0.00158256, 0.00100336),
         joint='right_shoulder_roll_joint'),
    Link('right_shoulder_yaw_link', 'right_shoulder_roll_link', pos=(0.0, 0.0, -0.1343), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.839, com=(0.01365, -0.002767, -0.16266), inertia_quat=(0.708798, -0.0473362, -0.0331229, 0.703042), inertia_diag=(0.00408038, 0.00370367, 0.000622687),
         joint='right_shoulder_yaw_joint'),
    Link('right_elbow_link', 'right_shoulder_yaw_link', pos=(0.0185, 0.0, -0.198), quat=(1.0, 0.0, 0.0, 0.0),
         mass=0.669, com=(0.15908, 0.000144, -0.015776), inertia_quat=(-0.0765232, 0.720327, -0.0853116, 0.684102), inertia_diag=(0.00601829, 0.00600579, 0.000408305),
         joint='right_elbow_joint'),
    Link('right_hand_link', 'right_elbow_link', pos=HAND_OFFSET, quat=(1.0, 0.0, 0.0, 0.0), **_NO_INERTIA, joint=None),
)

# Joint axis (in the link frame) and range (rad). The joint sits at the link origin.
JOINTS = {
    'left_hip_yaw_joint': ((0.0, 0.0, 1.0), (-0.43, 0.43)),
    'left_hip_roll_joint': ((1.0, 0.0, 0.0), (-0.43, 0.43)),
    'left_hip_pitch_joint': ((0.0, 1.0, 0.0), (-1.57, 1.57)),
    'left_knee_joint': ((0.0, 1.0, 0.0), (-0.26, 2.05)),
    'left_ankle_joint': ((0.0, 1.0, 0.0), (-0.87, 0.52)),
    'right_hip_yaw_joint': ((0.0, 0.0, 1.0), (-0.43, 0.43)),
    'right_hip_roll_joint': ((1.0, 0.0, 0.0), (-0.43, 0.43)),
    'right_hip_pitch_joint': ((0.0, 1.0, 0.0), (-1.57, 1.57)),
    'right_knee_joint': ((0.0, 1.0, 0.0), (-0.26, 2.05)),
    'right_ankle_joint': ((0.0, 1.0, 0.0), (-0.87, 0.52)),
    'torso_joint': ((0.0, 0.0, 1.0), (-2.35, 2.35)),
    'left_shoulder_pitch_joint': ((0.0, 1.0, 0.0), (-2.87, 2.87)),
    'left_shoulder_roll_joint': ((1.0, 0.0, 0.0), (-0.34, 3.11)),
    'left_shoulder_yaw_joint': ((0.0, 0.0, 1.0), (-1.3, 4.45)),
    'left_elbow_joint': ((0.0, 1.0, 0.0), (-1.25, 2.61)),
    'right_shoulder_pitch_joint': ((0.0, 1.0, 0.0), (-2.87, 2.87)),
    'right_shoulder_roll_joint': ((1.0, 0.0, 0.0), (-3.11, 0.34)),
    'right_shoulder_yaw_joint': ((0.0, 0.0, 1.0), (-4.45, 1.3)),
    'right_elbow_joint': ((0.0, 1.0, 0.0), (-1.25, 2.61)),
}

# The sole is flat, 7 cm below the ankle axis, from 5 cm behind it to 15 cm ahead.
SOLE_DEPTH = 0.07
SOLE_SPHERE_RADIUS = 0.005
_SOLE_Z = -(SOLE_DEPTH - SOLE_SPHERE_RADIUS)

# Primitive shapes per link, keyed by the link name without its side prefix. Sizes follow the links'
# extents (joint to joint) and the real robot's limb thickness.
SHAPES = {
    "pelvis": (Shape("pelvis", "capsule", 0.06, (0.0, -0.08, -0.05), (0.0, 0.08, -0.05)),),
    "hip_yaw_link": (Shape("hip_yaw", "capsule", 0.05, (-0.09, 0.0, 0.0), (-0.045, 0.0, 0.0)),),
    "hip_roll_link": (Shape("hip", "capsule", 0.05, (0.0, -0.04, 0.0), (0.0, 0.03, 0.0)),),
    "hip_pitch_link": (
        Shape("hip_pitch", "capsule", 0.05, (0.0, -0.06, 0.0), (0.0, 0.01, 0.0)),
        Shape("thigh", "capsule", 0.06, (0.0, 0.0, -0.06), (0.0, 0.0, -0.32)),
    ),
    "knee_link": (Shape("shin", "capsule", 0.045, (0.0, 0.0, -0.07), (0.015, 0.0, -0.32)),),
    "ankle_link": (
        Shape("foot", "capsule", 0.025, (-0.025, 0.0, -0.045), (0.13, 0.0, -0.045)),
        # Sole contact points: heel and toe corners of the flat sole.
        Shape("sole_heel_inner", "sphere", SOLE_SPHERE_RADIUS, (-0.045, -0.02, _SOLE_Z)),
        Shape("sole_heel_outer", "sphere", SOLE_SPHERE_RADIUS, (-0.045, 0.02, _SOLE_Z)),
        Shape("sole_toe_inner", "sphere", SOLE_SPHERE_RADIUS, (0.145, -0.03, _SOLE_Z)),
        Shape("sole_toe_outer", "sphere", SOLE_SPHERE_RADIUS, (0.145, 0.03, _SOLE_Z)),
    ),
    "torso_link": (
        Shape("torso", "capsule", 0.11, (0.0, 0.0, 0.12), (0.0, 0.0, 0.36)),
        Shape("head", "sphere", 0.08, (0.04, 0.0, 0.65)),
    ),
    "shoulder_pitch_link": (Shape("shoulder", "sphere", 0.045, (-0.003, 0.03, -0.008)),),
    "shoulder_roll_link": (Shape("upper_arm_top", "capsule", 0.04, (0.0, 0.0, 0.0), (0.0, 0.0, -0.1)),),
    "shoulder_yaw_link": (Shape("upper_arm", "capsule", 0.035, (0.0, 0.0, -0.02), (0.0185, 0.0, -0.198)),),
    "elbow_link": (Shape("forearm", "capsule", 0.03, (0.0, 0.0, 0.0), (0.24, 0.0, -0.0129)),),
    "hand_link": (Shape("hand", "sphere", 0.035, (0.0, 0.0, 0.0)),),
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

# Default pose: knees slightly bent with the soles flat (hip + knee + ankle pitch = 0), arms relaxed
# beside the body with the forearms forward; the `stand` keyframe and the PD targets at rest.
DEFAULT_JOINT_POS = {
    "hip_pitch": -0.25,
    "knee": 0.6,
    "ankle": -0.35,
    "shoulder_pitch": 0.2,
    "left_shoulder_roll": 0.15,
    "right_shoulder_roll": -0.15,
    "elbow": 0.8,
}

DESIGN = Design(
    model_name="h1",
    title="Unitree H1",
    regenerate_command="python -m mimicjax.robots.h1.mjcf",
    links=LINKS,
    joints=JOINTS,
    motors=MOTORS,
    motor_of_joint=JOINT_MOTOR,
    shapes=SHAPES,
    sole_link="ankle_link",
    sole_points=SOLE_POINTS,
    self_collision_pairs=SELF_COLLISION_PAIRS,
    default_joint_pos=DEFAULT_JOINT_POS,
    sites=(
        # Unitree's IMU sits in the torso (the H1's only IMU in the published model).
        Site("imu_in_torso", "torso_link", (-0.04452, -0.01891, 0.27756)),
        Site("left_foot", "left_ankle_link", (0.05, 0.0, -SOLE_DEPTH)),
        Site("right_foot", "right_ankle_link", (0.05, 0.0, -SOLE_DEPTH)),
    ),
    camera_offset=(2.8, -2.8, 0.6),
)


def joint_names() -> tuple[str, ...]:
    """Actuated joints, in MJCF order."""
    return DESIGN.joint_order


def model_xml(pelvis_height: float | None = None) -> str:
    """The MJCF text of the H1 standing on a flat floor (soles resting on it unless `pelvis_height` is given)."""
    if pelvis_height is None:
        pelvis_height = standing_pelvis_height(DESIGN)
    return build_xml(DESIGN, pelvis_height=pelvis_height)


def write_assets(out_dir: Path = ASSETS_DIR) -> list[Path]:
    from mimicjax.io_utils import atomic_write_text

    path = out_dir / MODEL_FILE
    atomic_write_text(path, model_xml())
    return [path]


if __name__ == "__main__":
    for path in write_assets(Path(sys.argv[1]) if len(sys.argv) > 1 else ASSETS_DIR):
        print(f"wrote {path}")
