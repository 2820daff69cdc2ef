"""Which human joint the G1 follows with which body, and the G1 geometry the retargeting needs.

A *site* is a point fixed on a G1 body (body + offset in the body frame) paired with an SMPL joint.
Bones join consecutive sites; the targets keep each human bone's direction and give it the G1's
length, so a robot with shorter arms still points its arms where the person points theirs.

Everything here is numpy, computed once per robot variant.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from mimicjax.human.smpl import SMPL_JOINT_NAMES

# (site name, G1 body, offset in that body's frame, SMPL joint). The chest point sits on the torso at
# shoulder height, matching SMPL's spine3; the hand point is the G1's last wrist body (rigid in the 23-DoF).
SITES = (
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
)
SITE_NAMES = tuple(s[0] for s in SITES)

# Bones as (parent site, child site), listed parents first so targets can be built in one pass.
# Limb bones take the human bone's direction; the bones inside the G1's rigid pelvis and chest
# (RIGID_BONES) instead turn the G1's own offset with the human's pelvis / upper spine, because a
# person's hip and shoulder joints sit where no G1 joint can reach (the shoulders higher, for one).
BONES = (
    ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("pelvis", "chest"),
    ("chest", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("left_wrist", "left_hand"),
    ("chest", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("right_wrist", "right_hand"),
)  # fmt: skip

RIGID_BONES = {("pelvis", "left_hip"): "pelvis", ("pelvis", "right_hip"): "pelvis",
               ("chest", "left_shoulder"): "spine3", ("chest", "right_shoulder"): "spine3"}  # bone: SMPL joint turning it

# The limbs whose direction the quality report compares (thigh, shin, upper arm, forearm per side).
LIMBS = {
    "left_thigh": ("left_hip", "left_knee"), "right_thigh": ("right_hip", "right_knee"),
    "left_shin": ("left_knee", "left_ankle"), "right_shin": ("right_knee", "right_ankle"),
    "left_upper_arm": ("left_shoulder", "left_elbow"), "right_upper_arm": ("right_shoulder", "right_elbow"),
    "left_forearm": ("left_elbow", "left_wrist"), "right_forearm": ("right_elbow", "right_wrist"),
}  # fmt: skip

# Bodies whose orientation follows the matching SMPL joint's (the feet follow the ankles, hands the wrists).
ORIENTED = (
    ("pelvis", "pelvis"),
    ("torso_link", "spine3"),
    ("left_ankle_roll_link", "left_ankle"),
    ("right_ankle_roll_link", "right_ankle"),
    ("left_wrist_yaw_link", "left_wrist"),
    ("right_wrist_yaw_link", "right_wrist"),
)
FEET = ("left_ankle_roll_link", "right_ankle_roll_link")

# The G1 pelvis frame (x forward, y left, z up) written in SMPL body axes (x left, y up, z forward):
# column i is G1 axis i. A human joint frame R maps to the G1 body frame R @ SMPL_TO_G1 @ rest offset.
SMPL_TO_G1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def g1_tpose(joint_names) -> np.ndarray:
    """The G1 joint angles of a T-pose (legs straight, arms out sideways and straight), matching SMPL's rest pose."""
    q = np.zeros(len(joint_names))
    set_ = {"left_shoulder_roll_joint": np.pi / 2, "right_shoulder_roll_joint": -np.pi / 2,
            "left_elbow_joint": np.pi / 2, "right_elbow_joint": np.pi / 2}  # elbow 0 is a right angle on the G1
    for name, value in set_.items():
        q[list(joint_names).index(name)] = value
    return q


@dataclasses.dataclass(frozen=True, eq=False)
class G1Geometry:
    """The G1 facts the retargeting uses, for one variant (numpy)."""

    variant: str
    joint_names: tuple[str, ...]
    joint_range: np.ndarray  # (n, 2)
    default_pose: np.ndarray  # (n,)
    site_body: np.ndarray  # (S,) MuJoCo body id of each site
    site_offset: np.ndarray  # (S, 3)
    site_smpl: np.ndarray  # (S,) SMPL joint index of each site
    bone_parent: np.ndarray  # (B,) site index
    bone_child: np.ndarray  # (B,) site index
    bone_length: np.ndarray  # (B,) G1 length of each bone, metres (T-pose)
    bone_rigid_smpl: np.ndarray  # (B,) SMPL joint whose rotation turns a rigid bone's G1 offset, -1 for limb bones
    rest_sites: np.ndarray  # (S, 3) sites in the T-pose, pelvis frame (pelvis at the origin)
    oriented_body: np.ndarray  # (O,) MuJoCo body ids
    oriented_smpl: np.ndarray  # (O,) SMPL joint index
    oriented_rest: np.ndarray  # (O, 4) wxyz body orientation in the T-pose, pelvis frame
    sole_body: np.ndarray  # (2,) left, right foot body ids
    sole_points: np.ndarray  # (P, 3) lowest points of the sole, in the foot frame (same for both feet up to y sign)
    sole_points_right: np.ndarray  # (P, 3)
    pelvis_height: float  # T-pose pelvis height above the soles, metres
    keypoint_body_ids: np.ndarray  # (K,) spec().keypoint_body_ids


def _sole_points(model, foot_body: int) -> np.ndarray:
    """Bottom points of the foot's sole spheres (geoms named '*sole*'), or of all its sphere geoms."""
    import mujoco

    ids = [g for g in range(model.ngeom) if model.geom_bodyid[g] == foot_body]
    soles = [g for g in ids if "sole" in (model.geom(g).name or "")]
    spheres = [g for g in (soles or ids) if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE]
    if not spheres:
        raise ValueError(f"the foot body '{model.body(foot_body).name}' has no sphere sole geoms to keep above the floor")
    return np.array([model.geom_pos[g] - np.array([0.0, 0.0, model.geom_size[g, 0]]) for g in spheres])


@functools.lru_cache(maxsize=None)
def g1_geometry(variant: str = "29dof") -> G1Geometry:
    """Site table, bone lengths, rest orientations and soles of the G1 `variant`, from its MJCF."""
    import mujoco
    from scipy.spatial.transform import Rotation

    from mimicjax.robots import g1
    from mimicjax.robots.kinematics import KinematicTree

    spec = g1.spec(variant)
    model = g1.load_model(variant)
    tree = KinematicTree.from_model(model)  # checks the tree is one the JAX kinematics supports
    data = mujoco.MjData(model)
    data.qpos[:] = np.concatenate([np.zeros(3), [1.0, 0.0, 0.0, 0.0], g1_tpose(spec.joint_names)])
    mujoco.mj_kinematics(model, data)
    pos, quat = data.xpos.copy(), data.xquat.copy()

    def site_world(body, offset):
        return pos[body] + Rotation.from_quat(quat[body][[1, 2, 3, 0]]).apply(offset)

    site_body = np.array([tree.body_id(body) for _, body, _, _ in SITES])
    site_offset = np.array([offset for _, _, offset, _ in SITES], dtype=np.float64)
    rest_sites = np.stack([site_world(b, o) for b, o in zip(site_body, site_offset)])
    bone_parent = np.array([SITE_NAMES.index(p) for p, _ in BONES])
    bone_child = np.array([SITE_NAMES.index(c) for _, c in BONES])
    feet = np.array([tree.body_id(name) for name in FEET])
    soles_left = _sole_points(model, int(feet[0]))
    soles_right = _sole_points(model, int(feet[1]))
    lowest = min(site_world(feet[0], p)[2] for p in soles_left)
    oriented_body = np.array([tree.body_id(b) for b, _ in ORIENTED])
    return G1Geometry(
        variant=variant,
        joint_names=spec.joint_names,
        joint_range=spec.joint_range.astype(np.float64),
        default_pose=spec.default_pose.astype(np.float64),
        site_body=site_body,
        site_offset=site_offset,
        site_smpl=np.array([SMPL_JOINT_NAMES.index(j) for *_, j in SITES]),
        bone_parent=bone_parent,
        bone_child=bone_child,
        bone_length=np.linalg.norm(rest_sites[bone_child] - rest_sites[bone_parent], axis=-1),
        bone_rigid_smpl=np.array([SMPL_JOINT_NAMES.index(RIGID_BONES[b]) if b in RIGID_BONES else -1 for b in BONES]),
        rest_sites=rest_sites,
        oriented_body=oriented_body,
        oriented_smpl=np.array([SMPL_JOINT_NAMES.index(j) for _, j in ORIENTED]),
        oriented_rest=quat[oriented_body],
        sole_body=feet,
        sole_points=soles_left,
        sole_points_right=soles_right,
        pelvis_height=float(-lowest),
        keypoint_body_ids=spec.keypoint_body_ids,
    )


__all__ = ["BONES", "RIGID_BONES", "FEET", "LIMBS", "ORIENTED", "SITES", "SITE_NAMES", "SMPL_TO_G1", "G1Geometry", "g1_geometry", "g1_tpose"]
