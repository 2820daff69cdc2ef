"""From a human motion to what the robot should do: fitted proportions, goal sites, orientations, contacts.

1. `fit_shape` (once per subject): a scale and, with a real body model, betas, so that the human's
   rest-pose sites (SMPL T-pose) line up with the robot's in its T-pose. The scale carries the pelvis
   trajectory (stride length, pelvis height); the betas give the human a robot-like build.
2. `clip_targets` (per clip): the human's joints by forward kinematics, turned so the first frame faces
   +x (optional), then re-proportioned: every bone keeps the human's direction and takes the robot's length,
   starting from the scaled pelvis. Targets are lifted so the feet stand on the floor (z = 0) when the
   human's feet are in contact, which is detected from foot height and speed.

Numpy except the body-model forward pass.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from mimicjax.human.smpl import SMPL_JOINT_NAMES
from mimicjax.retarget.correspondence import RobotGeometry

# Weight of each site in the shape fit: the legs and trunk carry the pelvis trajectory, so they decide
# the scale; the robots' arms are much shorter than a person's and only nudge it.
_SHAPE_FIT_WEIGHTS = {"pelvis": 1.0, "left_hip": 1.0, "right_hip": 1.0, "left_knee": 1.0, "right_knee": 1.0,
                      "left_ankle": 1.0, "right_ankle": 1.0, "chest": 1.0, "left_shoulder": 0.3, "right_shoulder": 0.3,
                      "left_elbow": 0.1, "right_elbow": 0.1, "left_wrist": 0.1, "right_wrist": 0.1,
                      "left_hand": 0.05, "right_hand": 0.05}  # fmt: skip
_BETA_REGULARISATION = 1e-3

# Contact detection: a foot is on the ground when its lowest joint is within this height of the clip's
# ground level and moves slower than this (human metres, metres per second).
CONTACT_HEIGHT = 0.06
CONTACT_SPEED = 0.6
_FORWARD_BUCKET = 128
_J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
# Which joint of a body model's own order stands for SMPL's 'left_hand'/'right_hand' (middle finger base).
_HAND_JOINT = {"smpl": (22, 23), "skeleton": (22, 23), "smplh": (25, 40), "smplx": (28, 43)}


@dataclasses.dataclass(frozen=True)
class ShapeFit:
    """Human-to-robot proportions of one subject."""

    scale: float
    betas: np.ndarray | None  # fitted betas, or None for a skeleton-only body model
    residual: float  # weighted RMS distance of the rest-pose sites after the fit, metres


def _smpl24(joints: np.ndarray, family: str) -> np.ndarray:
    """The 24 SMPL joints from a body model's joints (SMPL+H/X: finger bases stand in for the hands)."""
    left, right = _HAND_JOINT[family]
    return np.concatenate([joints[..., :22, :], joints[..., [left, right], :]], axis=-2)


def _rest_sites(body_model, geometry: RobotGeometry, betas) -> np.ndarray:
    """Rest-pose (T-pose) human sites relative to the pelvis, in robot axes (x forward, y left, z up)."""
    if body_model.has_mesh:
        from mimicjax.human.smpl import _forward_jit

        out = _forward_jit(body_model, np.zeros(3), np.zeros((body_model.num_body_joints, 3)), betas, return_vertices=False)
        joints = np.asarray(out["joints"], np.float64)
    else:
        joints = np.asarray(body_model.rest_joints, np.float64)  # the zero pose is the rest skeleton
    joints = _smpl24(joints, body_model.family)
    sites = joints[geometry.site_smpl] - joints[0]
    return sites @ geometry.smpl_to_robot


def fit_shape(body_model, geometry: RobotGeometry, steps: int = 300, learning_rate: float = 0.05, fit_betas: bool = True) -> ShapeFit:
    """Scale (and betas, for a body model with a shape space) lining the human T-pose up with the robot's.

    fit_betas=False (or a skeleton-only model) fits the scale alone, in closed form, at the mean shape.
    """
    weights = np.array([_SHAPE_FIT_WEIGHTS.get(name, 1.0) for name in geometry.site_names])
    goal = geometry.rest_sites - geometry.rest_sites[0]
    if not fit_betas or not body_model.has_mesh or body_model.num_betas == 0:
        betas = np.zeros(body_model.num_betas) if body_model.has_mesh else None
        human = _rest_sites(body_model, geometry, betas)
        scale = float(np.sum(weights[:, None] * human * goal) / np.sum(weights[:, None] * human * human))
        residual = float(np.sqrt(np.sum(weights * np.sum((scale * human - goal) ** 2, -1)) / weights.sum()))
        return ShapeFit(scale=scale, betas=betas, residual=residual)

    import jax
    import jax.numpy as jnp
    import optax

    from mimicjax.human.smpl import forward

    smpl_to_robot = jnp.asarray(geometry.smpl_to_robot, body_model.rest_joints.dtype)
    left, right = _HAND_JOINT[body_model.family]
    pick = jnp.asarray(np.concatenate([np.arange(22), [left, right]])[geometry.site_smpl])

    def loss(params):
        out = forward(body_model, jnp.zeros(3), jnp.zeros((body_model.num_body_joints, 3)), params["betas"], return_vertices=False)
        joints = out["joints"]
        sites = (joints[pick] - joints[0]) @ smpl_to_robot
        err = jnp.exp(params["log_scale"]) * sites - goal
        return jnp.sum(weights * jnp.sum(err * err, -1)) / weights.sum() + _BETA_REGULARISATION * jnp.mean(params["betas"] ** 2)

    optimiser = optax.adam(learning_rate)

    @jax.jit
    def run(params):
        def step(carry, _):
            params, state = carry
            grads = jax.grad(loss)(params)
            updates, state = optimiser.update(grads, state)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, optimiser.init(params)), None, length=steps)
        return params

    params = run({"log_scale": jnp.zeros(()), "betas": jnp.zeros(body_model.num_betas, body_model.rest_joints.dtype)})
    betas = np.asarray(params["betas"], np.float64)
    scale = float(np.exp(params["log_scale"]))
    human = _rest_sites(body_model, geometry, betas)
    residual = float(np.sqrt(np.sum(weights * np.sum((scale * human - goal) ** 2, -1)) / weights.sum()))
    return ShapeFit(scale=scale, betas=betas, residual=residual)


@dataclasses.dataclass(frozen=True)
class ClipTargets:
    """What the robot should follow in one clip, in the output world (z up, floor at z = 0). Numpy."""

    name: str
    fps: float
    sites: np.ndarray  # (T, S, 3) goal positions of the robot sites
    orientations: np.ndarray  # (T, O, 4) wxyz goal orientations of the oriented bodies
    contact: np.ndarray  # (T, 2) bool, left/right foot on the ground
    human_joints: np.ndarray  # (T, 24, 3) the human's joints (own proportions), same world frame
    init_root_quat: np.ndarray  # (T, 4) heading-only pelvis orientation, the warm start
    heading_turn: float  # yaw (radians) applied to the whole clip
    source: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.sites.shape[0])


def _heading(rotations_robot_root: np.ndarray) -> np.ndarray:
    """Yaw (T,) of the robot root's x axis."""
    forward = rotations_robot_root[:, :, 0]
    return np.arctan2(forward[:, 1], forward[:, 0])


def detect_contacts(human_joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, 2) bool: each foot's lowest joint (ankle or toe) near the clip's ground level and slow."""
    feet = {"left": (_J["left_ankle"], _J["left_foot"]), "right": (_J["right_ankle"], _J["right_foot"])}
    heights, speeds = [], []
    for ankle, toe in feet.values():
        pts = human_joints[:, [ankle, toe], :]
        heights.append(pts[..., 2].min(axis=1))
        vel = np.gradient(pts, axis=0) * fps if len(pts) > 1 else np.zeros_like(pts)
        speeds.append(np.linalg.norm(vel, axis=-1).min(axis=1))
    heights, speeds = np.stack(heights, 1), np.stack(speeds, 1)
    ground = np.percentile(heights.min(axis=1), 5)
    return (heights - ground < CONTACT_HEIGHT) & (speeds < CONTACT_SPEED)


def clip_targets(motion, body_model, geometry: RobotGeometry, shape: ShapeFit, align_heading: bool = True, name: str = "") -> ClipTargets:
    """Goal sites, orientations and contacts of the robot for a `HumanMotion` (z-up)."""
    from mimicjax.human.smpl import _forward_jit

    if motion.up_axis != "z":
        motion = motion.to_z_up()
    betas = shape.betas if body_model.has_mesh else None
    num = motion.num_frames
    # Pad the frame count to a bucket so clips of different lengths share one compiled forward pass.
    padded = int(np.ceil(num / _FORWARD_BUCKET)) * _FORWARD_BUCKET
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], padded - num, axis=0)])  # noqa: E731
    body_pose = motion.smpl_body_pose() if body_model.num_body_joints == 23 else motion.body_pose
    out = _forward_jit(body_model, pad(motion.global_orient), pad(body_pose), betas, pad(motion.transl), return_vertices=False)
    joints = _smpl24(np.asarray(out["joints"][:num], np.float64), body_model.family)
    rotations = np.asarray(out["joint_rotations"][:num], np.float64)
    rotations = np.concatenate([rotations[:, :22], rotations[:, list(_HAND_JOINT[body_model.family])]], axis=1)

    turn = 0.0
    if align_heading:
        turn = -float(_heading(rotations[:1, 0] @ geometry.smpl_to_robot)[0])
        about = np.array([joints[0, 0, 0], joints[0, 0, 1], 0.0])
        yaw = Rotation.from_euler("z", turn).as_matrix()
        joints = (joints - about) @ yaw.T + about
        rotations = yaw @ rotations

    sites = np.zeros((num, len(geometry.site_names), 3))
    pelvis = joints[:, 0]
    start = np.array([pelvis[0, 0], pelvis[0, 1], 0.0])
    sites[:, 0] = start + shape.scale * (pelvis - start)
    for parent, child, length, rigid in zip(geometry.bone_parent, geometry.bone_child, geometry.bone_length, geometry.bone_rigid_smpl):
        if rigid >= 0:
            robot_frame = rotations[:, rigid] @ geometry.smpl_to_robot  # the robot's pelvis/torso is upright in the T-pose
            sites[:, child] = sites[:, parent] + robot_frame @ (geometry.rest_sites[child] - geometry.rest_sites[parent])
            continue
        bone = joints[:, geometry.site_smpl[child]] - joints[:, geometry.site_smpl[parent]]
        direction = bone / np.maximum(np.linalg.norm(bone, axis=-1, keepdims=True), 1e-9)
        sites[:, child] = sites[:, parent] + length * direction

    contact = detect_contacts(joints, motion.fps)
    # Lift everything so that ankles in contact sit at the robot's ankle height above its soles.
    ankles = sites[:, [geometry.site_names.index("left_ankle"), geometry.site_names.index("right_ankle")], 2]
    ankle_rest = geometry.pelvis_height + geometry.rest_sites[geometry.site_names.index("left_ankle"), 2]
    grounded = ankles[contact] if contact.any() else np.array([np.percentile(ankles.min(axis=1), 5)])
    sites[..., 2] += ankle_rest - np.median(grounded)

    robot_frames = rotations[:, geometry.oriented_smpl] @ geometry.smpl_to_robot
    rest = Rotation.from_quat(geometry.oriented_rest[:, [1, 2, 3, 0]]).as_matrix()
    goal = Rotation.from_matrix((robot_frames @ rest).reshape(-1, 3, 3)).as_quat().reshape(num, -1, 4)[..., [3, 0, 1, 2]]
    yaw = _heading(rotations[:, 0] @ geometry.smpl_to_robot)
    init_quat = np.stack([np.cos(yaw / 2), np.zeros(num), np.zeros(num), np.sin(yaw / 2)], axis=-1)
    return ClipTargets(
        name=name or (str(motion.source) if motion.source else "clip"),
        fps=float(motion.fps),
        sites=sites,
        orientations=goal,
        contact=contact,
        human_joints=joints,
        init_root_quat=init_quat,
        heading_turn=turn,
        source=str(motion.source),
    )


__all__ = ["CONTACT_HEIGHT", "CONTACT_SPEED", "ClipTargets", "ShapeFit", "clip_targets", "detect_contacts", "fit_shape"]
