"""The robot geometry the retargeting needs, from the robot's SMPL correspondence and its MJCF.

A *site* is a point fixed on a robot body (body + offset in the body frame) paired with an SMPL joint
(`Robot.smpl`, declared by each robot package). Bones join consecutive sites; the targets keep each
human bone's direction and give it the robot's length, so a robot with shorter arms still points its
arms where the person points theirs. Site names follow the SMPL joints they track (`pelvis`,
`left_ankle`, `chest`, ...); `left_ankle` and `right_ankle` must exist (they place the soles).

Everything here is numpy, computed once per robot.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from mimicjax.human.smpl import SMPL_JOINT_NAMES
from mimicjax.robots.base import Robot


@dataclasses.dataclass(frozen=True, eq=False)
class RobotGeometry:
    """The robot facts the retargeting uses (numpy)."""

    robot: str
    site_names: tuple[str, ...]
    limbs: dict  # limb name -> (site index, site index), for the quality report
    smpl_to_robot: np.ndarray  # (3, 3): column i is robot root axis i in SMPL body axes
    joint_names: tuple[str, ...]
    joint_range: np.ndarray  # (n, 2)
    default_pose: np.ndarray  # (n,)
    site_body: np.ndarray  # (S,) MuJoCo body id of each site
    site_offset: np.ndarray  # (S, 3)
    site_smpl: np.ndarray  # (S,) SMPL joint index of each site
    bone_parent: np.ndarray  # (B,) site index
    bone_child: np.ndarray  # (B,) site index
    bone_length: np.ndarray  # (B,) robot length of each bone, metres (T-pose)
    bone_rigid_smpl: np.ndarray  # (B,) SMPL joint whose rotation turns a rigid bone's robot offset, -1 for limb bones
    rest_sites: np.ndarray  # (S, 3) sites in the T-pose, pelvis frame (pelvis at the origin)
    oriented_body: np.ndarray  # (O,) MuJoCo body ids
    oriented_smpl: np.ndarray  # (O,) SMPL joint index
    oriented_rest: np.ndarray  # (O, 4) wxyz body orientation in the T-pose, pelvis frame
    oriented_weight: np.ndarray  # (O,) relative weight of each body's orientation term
    sole_body: np.ndarray  # (2,) left, right foot body ids
    sole_points: np.ndarray  # (P, 3) lowest points of the sole, in the foot frame (same for both feet up to y sign)
    sole_points_right: np.ndarray  # (P, 3)
    pelvis_height: float  # T-pose pelvis height above the soles, metres
    keypoint_body_ids: np.ndarray  # (K,) Robot.keypoint_body_ids


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
def robot_geometry(robot: Robot) -> RobotGeometry:
    """Site table, bone lengths, rest orientations and soles of `robot`, from its MJCF and SMPL correspondence."""
    import mujoco
    from scipy.spatial.transform import Rotation

    smpl = robot.smpl
    model = robot.load_model()
    data = mujoco.MjData(model)
    data.qpos[:] = np.concatenate([np.zeros(3), [1.0, 0.0, 0.0, 0.0], smpl.tpose_joint_pos(robot.joint_names)])
    mujoco.mj_kinematics(model, data)
    pos, quat = data.xpos.copy(), data.xquat.copy()

    def site_world(body, offset):
        return pos[body] + Rotation.from_quat(quat[body][[1, 2, 3, 0]]).apply(offset)

    site_names = tuple(site for site, _, _, _ in smpl.sites)
    for required in ("pelvis", "left_ankle", "right_ankle"):
        if required not in site_names:
            raise ValueError(f"the {robot.title}'s SMPL correspondence needs a site named {required!r}")
    site_body = np.array([robot.body_id(body) for _, body, _, _ in smpl.sites])
    site_offset = np.array([offset for _, _, offset, _ in smpl.sites], dtype=np.float64)
    rest_sites = np.stack([site_world(b, o) for b, o in zip(site_body, site_offset)])
    bone_parent = np.array([site_names.index(p) for p, _ in smpl.bones])
    bone_child = np.array([site_names.index(c) for _, c in smpl.bones])
    feet = np.array([robot.body_id(name) for name in robot.feet])
    soles_left = _sole_points(model, int(feet[0]))
    soles_right = _sole_points(model, int(feet[1]))
    lowest = min(site_world(feet[0], p)[2] for p in soles_left)
    oriented_body = np.array([robot.body_id(b) for b, _, _ in smpl.oriented])
    return RobotGeometry(
        robot=robot.name,
        site_names=site_names,
        limbs={limb: (site_names.index(a), site_names.index(b)) for limb, (a, b) in smpl.limbs.items()},
        smpl_to_robot=np.asarray(smpl.robot_axes_in_smpl, np.float64),
        joint_names=robot.joint_names,
        joint_range=robot.joint_range.astype(np.float64),
        default_pose=robot.default_pose.astype(np.float64),
        site_body=site_body,
        site_offset=site_offset,
        site_smpl=np.array([SMPL_JOINT_NAMES.index(j) for *_, j in smpl.sites]),
        bone_parent=bone_parent,
        bone_child=bone_child,
        bone_length=np.linalg.norm(rest_sites[bone_child] - rest_sites[bone_parent], axis=-1),
        bone_rigid_smpl=np.array([SMPL_JOINT_NAMES.index(smpl.rigid_bones[b]) if b in smpl.rigid_bones else -1
                                  for b in smpl.bones]),
        rest_sites=rest_sites,
        oriented_body=oriented_body,
        oriented_smpl=np.array([SMPL_JOINT_NAMES.index(j) for _, j, _ in smpl.oriented]),
        oriented_weight=np.array([w for _, _, w in smpl.oriented], np.float64),
        oriented_rest=quat[oriented_body],
        sole_body=feet,
        sole_points=soles_left,
        sole_points_right=soles_right,
        pelvis_height=float(-lowest),
        keypoint_body_ids=robot.keypoint_body_ids,
    )


__all__ = ["RobotGeometry", "robot_geometry"]
