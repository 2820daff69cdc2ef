"""What every robot provides, and the `Robot` object the rest of mimicjax takes.

A robot package (`robots/<package>/__init__.py`) declares one `RobotDefinition` per model it offers in
a module-level `ROBOTS` dict (name -> definition): its MJCF file, keypoints and their groups, feet,
torso, how SMPL joints map onto its bodies for retargeting, the joint orders of other tools' files.
Everything numeric (joint order, default pose, gains, limits, action scale, mirror map) is read from
the MJCF by `Robot.from_definition`, so model file and robot object cannot disagree. `robots.get(NAME)`
finds the package, builds the `Robot` once and caches it; a custom MJCF (`robots.get(NAME, mjcf=PATH)`)
changes physics and kinematics together.

Mirroring is the reflection y -> -y through the root's sagittal (xz) plane; left/right partners are
found by name (`left_*` <-> `right_*`), signs from each joint's axis.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path

import numpy as np

# Position targets are default pose + action * action_scale; a unit action asks for a quarter of the
# joint's peak torque at rest (the BeyondMimic convention).
ACTION_SCALE_TORQUE_FRACTION = 0.25


# The skeleton a humanoid's sites usually form (sites named after the SMPL joints they follow).
# Limb bones take the human bone's direction; the bones inside a robot's rigid pelvis and chest instead
# turn the robot's own offset with the human's pelvis / upper spine, because a person's hip and shoulder
# joints sit where no robot joint can reach (the shoulders higher, for one).
HUMANOID_BONES = (
    ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("pelvis", "chest"),
    ("chest", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("left_wrist", "left_hand"),
    ("chest", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("right_wrist", "right_hand"),
)  # fmt: skip
HUMANOID_RIGID_BONES = {("pelvis", "left_hip"): "pelvis", ("pelvis", "right_hip"): "pelvis",
                        ("chest", "left_shoulder"): "spine3", ("chest", "right_shoulder"): "spine3"}
HUMANOID_LIMBS = {
    "left_thigh": ("left_hip", "left_knee"), "right_thigh": ("right_hip", "right_knee"),
    "left_shin": ("left_knee", "left_ankle"), "right_shin": ("right_knee", "right_ankle"),
    "left_upper_arm": ("left_shoulder", "left_elbow"), "right_upper_arm": ("right_shoulder", "right_elbow"),
    "left_forearm": ("left_elbow", "left_wrist"), "right_forearm": ("right_elbow", "right_wrist"),
}  # fmt: skip
# A root frame with x forward, y left, z up, written in SMPL body axes (x left, y up, z forward).
FORWARD_LEFT_UP_IN_SMPL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


@dataclasses.dataclass(frozen=True)
class SmplCorrespondence:
    """Which SMPL joint the robot follows with which body (retargeting; see `retarget/correspondence.py`).

    A site is a point fixed on a robot body paired with an SMPL joint; bones join consecutive sites
    (parents listed first) and take the human bone's direction with the robot's length. Rigid bones
    (inside the robot's pelvis or chest) instead turn the robot's own offset with the named SMPL joint.
    The skeleton defaults to the usual humanoid one (`HUMANOID_BONES`, ...).
    """

    sites: tuple[tuple[str, str, tuple[float, float, float], str], ...]  # (site, body, offset, SMPL joint)
    oriented: tuple[tuple[str, str, float], ...]  # (body, SMPL joint, weight) whose orientations are matched
    tpose: Mapping[str, float]  # joint angles (rad) that match SMPL's rest pose; others are 0
    bones: tuple[tuple[str, str], ...] = HUMANOID_BONES  # (parent site, child site)
    rigid_bones: Mapping[tuple[str, str], str] = dataclasses.field(default_factory=lambda: dict(HUMANOID_RIGID_BONES))
    limbs: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=lambda: dict(HUMANOID_LIMBS))
    # (3, 3): column i is robot root axis i written in SMPL body axes.
    robot_axes_in_smpl: np.ndarray = dataclasses.field(default_factory=FORWARD_LEFT_UP_IN_SMPL.copy)

    def tpose_joint_pos(self, joint_names) -> np.ndarray:
        q = np.zeros(len(joint_names))
        for name, value in self.tpose.items():
            if name in joint_names:
                q[list(joint_names).index(name)] = value
        return q


@dataclasses.dataclass(frozen=True)
class RobotDefinition:
    """The facts and choices a robot package declares; `Robot.from_definition` derives the rest."""

    name: str  # what users type: `--robot NAME`, `env.robot=NAME`
    title: str  # for messages, e.g. "Unitree G1 (23-DoF)"
    mjcf: Path
    keypoints: tuple[tuple[str, str], ...]  # (body, group); the tracking policy follows these
    keypoint_group_weights: Mapping[str, float]  # GenMimic: end effectors > upper body > lower body
    feet: tuple[str, str]  # (left, right) bodies carrying sole spheres (geoms named '*sole*')
    torso: str  # pushed by domain randomisation
    smpl: SmplCorrespondence
    # Joint orders of other tools' files (name -> joint names), e.g. Isaac Lab's breadth-first order.
    file_joint_orders: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    action_scale_torque_fraction: float = ACTION_SCALE_TORQUE_FRACTION


@dataclasses.dataclass(frozen=True, eq=False)
class Robot:
    """A robot as the rest of mimicjax sees it. Arrays are over `joint_names` unless their name says otherwise."""

    definition: RobotDefinition
    model_path: Path
    joint_names: tuple[str, ...]  # actuated joints, in MJCF order
    body_names: tuple[str, ...]  # every body but the world, in MJCF order
    default_pose: np.ndarray
    default_root_height: float
    joint_range: np.ndarray  # (n, 2)
    armature: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    effort_limit: np.ndarray
    action_scale: np.ndarray
    mirror_perm: np.ndarray  # joint i of a mirrored pose is sign[i] * q[perm[i]]
    mirror_sign: np.ndarray
    body_mirror_perm: np.ndarray  # over body_names: each body's left/right partner

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def title(self) -> str:
        return self.definition.title

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def keypoint_bodies(self) -> tuple[str, ...]:
        return tuple(body for body, _ in self.definition.keypoints)

    @property
    def keypoint_groups(self) -> tuple[str, ...]:
        return tuple(group for _, group in self.definition.keypoints)

    @property
    def keypoint_group_weights(self) -> Mapping[str, float]:
        return self.definition.keypoint_group_weights

    @property
    def keypoint_weights(self) -> np.ndarray:
        return np.array([self.definition.keypoint_group_weights[g] for g in self.keypoint_groups])

    @property
    def keypoint_body_ids(self) -> np.ndarray:
        """MuJoCo body ids of the keypoints (world is body 0)."""
        return np.array([self.body_id(name) for name in self.keypoint_bodies])

    @property
    def keypoint_mirror_perm(self) -> np.ndarray:
        """Index of each keypoint's mirror partner among the keypoints."""
        return np.array([self.keypoint_bodies.index(partner_name(name)) for name in self.keypoint_bodies])

    @property
    def root_body(self) -> str:
        return self.body_names[0]

    @property
    def feet(self) -> tuple[str, str]:
        return self.definition.feet

    @property
    def torso(self) -> str:
        return self.definition.torso

    @property
    def smpl(self) -> SmplCorrespondence:
        return self.definition.smpl

    def body_id(self, name: str) -> int:
        """MuJoCo body id (world is 0) of a body, with the valid names in the error."""
        if name not in self.body_names:
            raise ValueError(f"the {self.title} has no body {name!r}; bodies: {', '.join(self.body_names)}")
        return self.body_names.index(name) + 1

    def load_model(self):
        """A fresh `mujoco.MjModel` of this robot on a flat floor."""
        return _load_checked(self.model_path, self.joint_names, self.title)

    @functools.cached_property
    def tree(self):
        """The kinematic tree (float32 arrays) for `robots.kinematics.forward_kinematics`."""
        from mimicjax.robots.kinematics import KinematicTree

        return KinematicTree.from_model(self.load_model())

    def body_poses(self, root_pos, root_quat, joint_pos) -> tuple[np.ndarray, np.ndarray]:
        """World positions (..., nbody, 3) and orientations (..., nbody, 4) of every body, as numpy."""
        from mimicjax.robots.kinematics import body_poses

        return body_poses(self.tree, root_pos, root_quat, joint_pos)

    def file_joint_order(self, order: str) -> tuple[str, ...]:
        orders = self.definition.file_joint_orders
        if order not in orders:
            known = ", ".join(repr(o) for o in orders) or "none"
            raise ValueError(f"joint order {order!r} is not known for the {self.title} (known: {known}); "
                             "pass the list of joint names instead")
        return orders[order]

    @classmethod
    def from_definition(cls, definition: RobotDefinition, mjcf: str | Path | None = None) -> "Robot":
        """Read joints, gains, limits, default pose and mirror map from the MJCF (`mjcf` overrides the stock file)."""
        path = Path(mjcf) if mjcf is not None else definition.mjcf
        model = _load_checked(path, None, definition.title)
        joint_ids = [int(model.actuator_trnid[i, 0]) for i in range(model.nu)]
        joint_names = tuple(model.joint(j).name for j in joint_ids)
        if mjcf is not None:  # a custom file must drive the same joints as the stock robot
            from mimicjax import robots

            _check_joints(path, robots.get(definition.name).joint_names, joint_names, definition.title)
        body_names = tuple(model.body(i).name for i in range(1, model.nbody))
        qpos_adr = model.jnt_qposadr[joint_ids]
        if "stand" not in [model.key(k).name for k in range(model.nkey)]:
            raise ValueError(f"{path}: the model needs a keyframe named 'stand' (the default pose)")
        stand = model.key("stand")
        kp = model.actuator_gainprm[:, 0].copy()
        effort = model.jnt_actfrcrange[joint_ids, 1].copy()
        robot = cls(
            definition=definition,
            model_path=path,
            joint_names=joint_names,
            body_names=body_names,
            default_pose=stand.qpos[qpos_adr].copy(),
            default_root_height=float(stand.qpos[2]),
            joint_range=model.jnt_range[joint_ids].copy(),
            armature=model.dof_armature[model.jnt_dofadr[joint_ids]].copy(),
            kp=kp,
            kd=-model.actuator_biasprm[:, 2].copy(),
            effort_limit=effort,
            action_scale=definition.action_scale_torque_fraction * effort / kp,
            mirror_perm=np.array([joint_names.index(partner_name(n)) for n in joint_names]),
            mirror_sign=np.array([_mirror_sign_of(model.jnt_axis[j]) for j in joint_ids]),
            body_mirror_perm=np.array([body_names.index(partner_name(n)) for n in body_names]),
        )
        for body in (*robot.keypoint_bodies, *definition.feet, definition.torso):
            robot.body_id(body)  # every named body exists
        return robot


def _load_checked(path: Path, expected_joints: tuple[str, ...] | None, title: str):
    import mujoco

    if not path.is_file():
        raise FileNotFoundError(f"{title} model file not found: {path}")
    try:
        model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as error:  # MuJoCo reports parse and compile errors as ValueError
        raise ValueError(f"cannot load the {title} model {path}: {error}") from None
    if expected_joints is not None:
        actuated = tuple(model.joint(model.actuator_trnid[i, 0]).name for i in range(model.nu))
        _check_joints(path, expected_joints, actuated, title)
    return model


def _check_joints(path: Path, expected: tuple[str, ...], found: tuple[str, ...], title: str) -> None:
    if tuple(found) != tuple(expected):
        raise ValueError(f"{path} does not match the {title}: expected actuated joints {list(expected)}, found {list(found)}")


def partner_name(name: str) -> str:
    """The mirror partner of a body or joint name: `left_*` <-> `right_*`; central names are their own."""
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    return name


# Joints whose axis lies in the sagittal plane (y axis) keep their sign under the y -> -y reflection;
# roll (x) and yaw (z) axes flip, since angular quantities are pseudo-vectors.
def _mirror_sign_of(axis) -> float:
    return 1.0 if abs(axis[1]) > 0.5 else -1.0


# ---- Mirroring: reflection y -> -y through the root's sagittal (xz) plane ---------------------------
# These work on NumPy or JAX arrays with any leading batch axes.


def mirror_joint_pos(robot: Robot, joint_pos):
    """Joint angles (or velocities, or actions) of the mirrored robot."""
    return joint_pos[..., robot.mirror_perm] * robot.mirror_sign


def mirror_vector(v):
    """A position or linear velocity reflected in y: (x, y, z) -> (x, -y, z)."""
    return v * _REFLECT_Y.astype(v.dtype)


def mirror_pseudovector(w):
    """An angular velocity (a pseudo-vector) under the reflection: (wx, wy, wz) -> (-wx, wy, -wz)."""
    return w * _REFLECT_PSEUDO.astype(w.dtype)


def mirror_quat(q):
    """A wxyz orientation under the reflection: (w, x, y, z) -> (w, -x, y, -z)."""
    return q * _REFLECT_QUAT.astype(q.dtype)


def mirror_body_pos(robot: Robot, body_pos):
    """Per-body positions (..., num_bodies, 3) over `body_names`: reflect and swap left/right bodies."""
    return mirror_vector(body_pos[..., robot.body_mirror_perm, :])


def mirror_keypoints(robot: Robot, keypoints):
    """Keypoint positions (..., num_keypoints, 3): reflect and swap left/right keypoints."""
    return mirror_vector(keypoints[..., robot.keypoint_mirror_perm, :])


def mirror_qpos(robot: Robot, qpos):
    """A full MuJoCo qpos (root position, root quaternion wxyz, joints) of the mirrored robot."""
    xp = np if isinstance(qpos, np.ndarray) else _jnp()
    return xp.concatenate(
        [mirror_vector(qpos[..., :3]), mirror_quat(qpos[..., 3:7]), mirror_joint_pos(robot, qpos[..., 7:])], axis=-1
    )


def mirror_qvel(robot: Robot, qvel):
    """A full MuJoCo qvel (world linear velocity, local angular velocity, joints), mirrored."""
    xp = np if isinstance(qvel, np.ndarray) else _jnp()
    return xp.concatenate(
        [mirror_vector(qvel[..., :3]), mirror_pseudovector(qvel[..., 3:6]), mirror_joint_pos(robot, qvel[..., 6:])],
        axis=-1,
    )


def _jnp():
    import jax.numpy as jnp

    return jnp


_REFLECT_Y = np.array([1.0, -1.0, 1.0])
_REFLECT_PSEUDO = np.array([-1.0, 1.0, -1.0])
_REFLECT_QUAT = np.array([1.0, -1.0, 1.0, -1.0])
