"""The Unitree G1 as the rest of mimicjax sees it: model loading, joint order, gains, keypoints, mirror.

Everything here is derived from the project's own MJCF (`assets/g1_<variant>.xml`, authored by
`g1_mjcf.py`), so the model file and the spec cannot disagree.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from mimicjax.robots import g1_mjcf

VARIANTS = g1_mjcf.VARIANTS

# Keypoints the tracking policy follows, with their group. GenMimic weighs end effectors most, then
# the upper body, and the lower body least.
KEYPOINT_BODIES = (
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

# Position targets are default pose + action * action_scale; a unit action asks for a quarter of the
# joint's peak torque at rest (the BeyondMimic convention).
ACTION_SCALE_TORQUE_FRACTION = 0.25


@dataclasses.dataclass(frozen=True, eq=False)
class G1Spec:
    """Constants of one G1 variant. Arrays are over `joint_names` unless their name says otherwise."""

    variant: str
    model_path: Path
    joint_names: tuple[str, ...]
    body_names: tuple[str, ...]  # every body but the world, in MJCF order
    default_pose: np.ndarray
    default_root_height: float
    joint_range: np.ndarray  # (n, 2)
    armature: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    effort_limit: np.ndarray
    action_scale: np.ndarray
    keypoint_bodies: tuple[str, ...]
    keypoint_groups: tuple[str, ...]
    keypoint_weights: np.ndarray
    mirror_perm: np.ndarray  # joint i of a mirrored pose is sign[i] * q[perm[i]]
    mirror_sign: np.ndarray
    body_mirror_perm: np.ndarray  # over body_names: each body's left/right partner

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def keypoint_body_ids(self) -> np.ndarray:
        """MuJoCo body ids of the keypoints (world is body 0)."""
        return np.array([self.body_names.index(name) + 1 for name in self.keypoint_bodies])

    @property
    def keypoint_mirror_perm(self) -> np.ndarray:
        """Index of each keypoint's mirror partner among the keypoints."""
        return np.array([self.keypoint_bodies.index(_partner_name(name)) for name in self.keypoint_bodies])


def model_path(variant: str = "29dof") -> Path:
    g1_mjcf.check_variant(variant)
    return g1_mjcf.ASSETS_DIR / f"g1_{variant}.xml"


def load_model(variant: str = "29dof", path: str | Path | None = None):
    """The MuJoCo model of the G1 `variant` ("29dof" or "23dof") on a flat floor.

    `path` loads another MJCF instead (e.g. a modified copy); it must have the variant's joints.
    """
    import mujoco

    g1_mjcf.check_variant(variant)
    path = Path(path) if path is not None else model_path(variant)
    if not path.is_file():
        raise FileNotFoundError(f"G1 model file not found: {path}")
    try:
        model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as error:  # MuJoCo reports parse and compile errors as ValueError
        raise ValueError(f"cannot load G1 model {path}: {error}") from None
    expected = g1_mjcf.joint_names(variant)
    actuated = tuple(model.joint(model.actuator_trnid[i, 0]).name for i in range(model.nu))
    if actuated != expected:
        raise ValueError(
            f"{path} does not match the G1 {variant}: expected actuated joints {list(expected)}, "
            f"found {list(actuated)}"
        )
    return model


def _partner_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    return name


# Joints whose axis lies in the sagittal plane (y axis) keep their sign under the y -> -y reflection;
# roll (x) and yaw (z) axes flip, since angular quantities are pseudo-vectors.
def _mirror_sign_of(axis) -> float:
    return 1.0 if abs(axis[1]) > 0.5 else -1.0


@functools.lru_cache(maxsize=None)
def spec(variant: str = "29dof") -> G1Spec:
    """The constants of the G1 `variant`, derived from its MJCF."""
    model = load_model(variant)
    joint_names = g1_mjcf.joint_names(variant)
    body_names = tuple(model.body(i).name for i in range(1, model.nbody))
    joint_ids = [model.joint(name).id for name in joint_names]
    qpos_adr = model.jnt_qposadr[joint_ids]
    stand = model.key("stand")
    kp = model.actuator_gainprm[:, 0].copy()
    effort = model.jnt_actfrcrange[joint_ids, 1].copy()
    groups = tuple(group for _, group in KEYPOINT_BODIES)
    return G1Spec(
        variant=variant,
        model_path=model_path(variant),
        joint_names=joint_names,
        body_names=body_names,
        default_pose=stand.qpos[qpos_adr].copy(),
        default_root_height=float(stand.qpos[2]),
        joint_range=model.jnt_range[joint_ids].copy(),
        armature=model.dof_armature[model.jnt_dofadr[joint_ids]].copy(),
        kp=kp,
        kd=-model.actuator_biasprm[:, 2].copy(),
        effort_limit=effort,
        action_scale=ACTION_SCALE_TORQUE_FRACTION * effort / kp,
        keypoint_bodies=tuple(name for name, _ in KEYPOINT_BODIES),
        keypoint_groups=groups,
        keypoint_weights=np.array([KEYPOINT_GROUP_WEIGHTS[g] for g in groups]),
        mirror_perm=np.array([joint_names.index(_partner_name(n)) for n in joint_names]),
        mirror_sign=np.array([_mirror_sign_of(model.jnt_axis[i]) for i in joint_ids]),
        body_mirror_perm=np.array([body_names.index(_partner_name(n)) for n in body_names]),
    )


# ---- Mirroring: reflection y -> -y through the pelvis' sagittal (xz) plane -------------------------
# These work on NumPy or JAX arrays with any leading batch axes.


def mirror_joint_pos(g1: G1Spec, joint_pos):
    """Joint angles (or velocities, or actions) of the mirrored robot."""
    return joint_pos[..., g1.mirror_perm] * g1.mirror_sign


def mirror_vector(v):
    """A position or linear velocity reflected in y: (x, y, z) -> (x, -y, z)."""
    return v * _REFLECT_Y.astype(v.dtype)


def mirror_pseudovector(w):
    """An angular velocity (a pseudo-vector) under the reflection: (wx, wy, wz) -> (-wx, wy, -wz)."""
    return w * _REFLECT_PSEUDO.astype(w.dtype)


def mirror_quat(q):
    """A wxyz orientation under the reflection: (w, x, y, z) -> (w, -x, y, -z)."""
    return q * _REFLECT_QUAT.astype(q.dtype)


def mirror_body_pos(g1: G1Spec, body_pos):
    """Per-body positions (..., num_bodies, 3) over `body_names`: reflect and swap left/right bodies."""
    return mirror_vector(body_pos[..., g1.body_mirror_perm, :])


def mirror_keypoints(g1: G1Spec, keypoints):
    """Keypoint positions (..., num_keypoints, 3): reflect and swap left/right keypoints."""
    return mirror_vector(keypoints[..., g1.keypoint_mirror_perm, :])


def mirror_qpos(g1: G1Spec, qpos):
    """A full MuJoCo qpos (root position, root quaternion wxyz, joints) of the mirrored robot."""
    import jax.numpy as jnp

    xp = jnp if not isinstance(qpos, np.ndarray) else np
    return xp.concatenate(
        [mirror_vector(qpos[..., :3]), mirror_quat(qpos[..., 3:7]), mirror_joint_pos(g1, qpos[..., 7:])],
        axis=-1,
    )


def mirror_qvel(g1: G1Spec, qvel):
    """A full MuJoCo qvel (world linear velocity, local angular velocity, joints), mirrored."""
    import jax.numpy as jnp

    xp = jnp if not isinstance(qvel, np.ndarray) else np
    return xp.concatenate(
        [mirror_vector(qvel[..., :3]), mirror_pseudovector(qvel[..., 3:6]), mirror_joint_pos(g1, qvel[..., 6:])],
        axis=-1,
    )


_REFLECT_Y = np.array([1.0, -1.0, 1.0])
_REFLECT_PSEUDO = np.array([-1.0, 1.0, -1.0])
_REFLECT_QUAT = np.array([1.0, -1.0, 1.0, -1.0])
