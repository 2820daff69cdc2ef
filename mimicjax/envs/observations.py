"""Observations of the tracking env: pure functions from robot, reference and randomisation state.

Three flat vectors, each a concatenation of named blocks (the layouts below, also used to build the
mirror transforms and to export the observation layout with a policy):

* **privileged** (`obs["critic"]`, and `obs["teacher"]` with sensor noise): root height, gravity and root
  velocities in the root frame, joints, last action, the keypoint bodies' positions, orientations and
  velocities relative to the root (root frame, so heading-invariant), foot contacts, the goal over a
  window of future frames (3D keypoints, root orientation, joint angles; root frame) and the
  randomisation parameters.
* **student** (`obs["student"]`, deployable on the real G1): a history of H proprioception frames (joint
  angles relative to the default pose, joint velocities, root angular velocity, gravity in the root
  frame, last action; oldest first) and the goal over a few future frames, computed from the motion file
  alone: the reference's 3D keypoints, root velocities and root tilt (gravity in the reference's root
  frame), all in the *reference's* current heading frame. Nothing in it needs the robot's global
  position or yaw (motion capture on a real robot): joint encoders and the IMU (gyro, gravity) suffice.
  The robot's own posture comes from its joints, the tilt to match from gravity vs goal gravity.

Frames: "world" is MuJoCo's (z up). "Root frame" is the pelvis frame: v_root = R_pelvis^T (v - p_pelvis).
"Heading frame" of a root pose: origin at the root's (x, y) on the floor, z up, x along the root's yaw;
heights stay heights above the floor.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mimicjax.math.rotations import heading_quat, quat_conjugate, quat_multiply, quat_rotate, quat_to_matrix

# ------------------------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """Uniform sensor noise, +- these half-widths, on what the actor sees (never on the critic)."""

    enabled: bool = True
    joint_pos: float = 0.01  # rad
    joint_vel: float = 0.5  # rad/s
    root_ang_vel: float = 0.2  # rad/s
    gravity: float = 0.05
    keypoints: float = 0.02  # m, on every goal keypoint (generated-video goals are noisy)


@dataclasses.dataclass(frozen=True)
class ObservationConfig:
    # What obs["actor"] is: the privileged teacher layout or the deployable student layout.
    actor: Literal["teacher", "student"] = "teacher"
    # Future frames of the goal, in seconds after the current reference time.
    goal_offsets: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5)
    student_goal_offsets: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5)
    history: int = 5  # student proprioception frames (current one included)
    privileged_randomization: bool = True  # put the randomisation parameters in the privileged obs
    contact_height: float = 0.01  # m: a foot is in contact when a sole sphere is this close to the floor
    clip: float = 100.0  # every observation entry is clipped to +-clip (and NaN becomes 0)
    noise: NoiseConfig = NoiseConfig()


# ------------------------------------------------------------------------------------------ layouts


@dataclasses.dataclass(frozen=True)
class Block:
    """A named part of a flat observation; `mirror` is its kind in `mimicjax.envs.mirror`."""

    name: str
    shape: tuple[int, ...]
    mirror: str

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def layout_size(layout: Sequence[Block]) -> int:
    return sum(block.size for block in layout)


def layout_slices(layout: Sequence[Block]) -> dict[str, slice]:
    """Where each block sits in the flat vector."""
    out, start = {}, 0
    for block in layout:
        out[block.name] = slice(start, start + block.size)
        start += block.size
    return out


def layout_table(layout: Sequence[Block]) -> list[dict]:
    """Plain-Python description (name, shape, start, size, mirror kind), e.g. for export metadata."""
    slices = layout_slices(layout)
    return [
        {"name": b.name, "shape": list(b.shape), "start": slices[b.name].start, "size": b.size, "mirror": b.mirror}
        for b in layout
    ]


def proprio_layout(num_joints: int, prefix: str = "") -> tuple[Block, ...]:
    """One frame of deployable proprioception."""
    n = num_joints
    return (
        Block(f"{prefix}joint_pos", (n,), "joint"),
        Block(f"{prefix}joint_vel", (n,), "joint"),
        Block(f"{prefix}root_ang_vel", (3,), "pseudovector"),
        Block(f"{prefix}gravity", (3,), "vector"),
        Block(f"{prefix}last_action", (n,), "joint"),
    )


STUDENT_GOAL_BLOCKS = ("goal_keypoints", "goal_root_lin_vel", "goal_root_ang_vel", "goal_gravity")


def student_layout(num_joints: int, num_keypoints: int, config: ObservationConfig) -> tuple[Block, ...]:
    blocks: list[Block] = []
    for h in range(config.history):
        blocks.extend(proprio_layout(num_joints, prefix=f"history{h}/"))
    t = len(config.student_goal_offsets)
    blocks += [
        Block("goal_keypoints", (t, num_keypoints, 3), "keypoint_vector"),
        Block("goal_root_lin_vel", (t, 3), "vector"),
        Block("goal_root_ang_vel", (t, 3), "pseudovector"),
        Block("goal_gravity", (t, 3), "vector"),
    ]
    return tuple(blocks)


def privileged_layout(num_joints: int, num_keypoints: int, num_bodies: int, config: ObservationConfig) -> tuple[Block, ...]:
    n, k, t = num_joints, num_keypoints, len(config.goal_offsets)
    blocks = [
        Block("root_height", (1,), "invariant"),
        Block("gravity", (3,), "vector"),
        Block("root_lin_vel", (3,), "vector"),
        Block("root_ang_vel", (3,), "pseudovector"),
        Block("joint_pos", (n,), "joint"),
        Block("joint_vel", (n,), "joint"),
        Block("last_action", (n,), "joint"),
        Block("body_pos", (k, 3), "keypoint_vector"),
        Block("body_rot", (k, 6), "keypoint_rot6d"),
        Block("body_lin_vel", (k, 3), "keypoint_vector"),
        Block("body_ang_vel", (k, 3), "keypoint_pseudovector"),
        Block("foot_contact", (2,), "foot_pair"),
        Block("goal_keypoints", (t, k, 3), "keypoint_vector"),
        Block("goal_root_rot", (t, 6), "rot6d"),
        Block("goal_joint_pos", (t, n), "joint"),
    ]
    if config.privileged_randomization:
        blocks += [
            Block("rand/friction", (1,), "invariant"),
            Block("rand/mass", (num_bodies,), "body_scale"),
            Block("rand/torso_com", (3,), "vector"),
            Block("rand/kp", (n,), "joint_scale"),
            Block("rand/kd", (n,), "joint_scale"),
            Block("rand/joint_offset", (n,), "joint"),
            Block("rand/action_delay", (1,), "invariant"),
        ]
    return tuple(blocks)


def flatten(layout: Sequence[Block], values: dict, clip: float | None = None) -> jax.Array:
    """Concatenate `values[name]` in layout order (shapes checked); NaN -> 0 and clip to +-clip."""
    parts = []
    for block in layout:
        value = jnp.asarray(values[block.name], jnp.float32)
        if value.shape != block.shape:
            raise ValueError(f"observation block {block.name!r}: expected shape {block.shape}, got {value.shape}")
        parts.append(value.reshape(-1))
    out = jnp.concatenate(parts) if parts else jnp.zeros((0,), jnp.float32)
    out = jnp.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return out if clip is None else jnp.clip(out, -clip, clip)


def unflatten(layout: Sequence[Block], x: jax.Array) -> dict:
    """The blocks of flat observations `x` (..., size) by name, each (..., *shape)."""
    slices = layout_slices(layout)
    return {b.name: x[..., slices[b.name]].reshape(x.shape[:-1] + b.shape) for b in layout}


# --------------------------------------------------------------------------------------- kinematics


@struct.dataclass
class BodyState:
    """Pose and velocity of every body (MuJoCo body indices, world = 0), all in the world frame."""

    root_pos: jax.Array  # (3,)
    root_quat: jax.Array  # (4,) wxyz
    joint_pos: jax.Array  # (n,)
    joint_vel: jax.Array  # (n,)
    root_lin_vel: jax.Array  # (3,)
    root_ang_vel: jax.Array  # (3,)
    body_pos: jax.Array  # (nbody, 3)
    body_quat: jax.Array  # (nbody, 4)
    body_lin_vel: jax.Array  # (nbody, 3) velocity of each body's origin
    body_ang_vel: jax.Array  # (nbody, 3)


def _level_table(tree):
    """Bodies below the root by depth, padded to one width with a scratch row (index nbody)."""
    nbody = len(tree.parents)
    width = max(len(level) for level in tree.levels)
    bodies = np.full((len(tree.levels), width), nbody, np.int32)
    parents = np.full((len(tree.levels), width), nbody, np.int32)
    for i, level in enumerate(tree.levels):
        bodies[i, : len(level)] = level
        parents[i, : len(level)] = [tree.parents[b] for b in level]
    return bodies, parents


def body_state(tree, root_pos, root_quat, joint_pos, root_lin_vel, root_ang_vel, joint_vel) -> BodyState:
    """Forward kinematics and velocities of one robot state (world-frame root velocities).

    Poses as `mimicjax.robots.kinematics.forward_kinematics`; velocities by propagation down the tree:
    each hinge sits at its body's origin, so a child's origin moves rigidly with its parent, and the
    child turns with its parent plus its own joint rate about the joint axis (which the hinge rotation
    leaves unchanged in the child frame). One `lax.scan` over the depth levels keeps the compiled
    step small (vmap it for batches).
    """
    from mimicjax.robots.kinematics import local_rotations

    nbody = len(tree.parents)
    dtype = tree.body_pos.dtype
    root_quat = root_quat / jnp.linalg.norm(root_quat)
    local = local_rotations(tree, joint_pos)
    rate = jnp.where(tree.joint_index >= 0, jnp.take(joint_vel, jnp.maximum(tree.joint_index, 0)), 0.0)

    def padded(x, fill=0.0):  # one scratch row that the padding of the level table reads and writes
        return jnp.concatenate([x, jnp.full((1,) + x.shape[1:], fill, x.dtype)])

    local, offset, axis, rate = padded(local), padded(tree.body_pos), padded(tree.joint_axis), padded(rate)
    pos = jnp.zeros((nbody + 1, 3), dtype).at[1].set(root_pos)
    quat = jnp.zeros((nbody + 1, 4), dtype).at[:, 0].set(1.0).at[1].set(root_quat)
    lin = jnp.zeros((nbody + 1, 3), dtype).at[1].set(root_lin_vel)
    ang = jnp.zeros((nbody + 1, 3), dtype).at[1].set(root_ang_vel)

    def level(carry, index):
        pos, quat, lin, ang = carry
        child, parent = index
        parent_quat, parent_pos, parent_ang = quat[parent], pos[parent], ang[parent]
        child_quat = quat_multiply(parent_quat, local[child])
        child_pos = parent_pos + quat_rotate(parent_quat, offset[child])
        child_lin = lin[parent] + jnp.cross(parent_ang, child_pos - parent_pos)
        child_ang = parent_ang + quat_rotate(child_quat, axis[child]) * rate[child][:, None]
        return (pos.at[child].set(child_pos), quat.at[child].set(child_quat), lin.at[child].set(child_lin), ang.at[child].set(child_ang)), None

    bodies, parents = _level_table(tree)
    (pos, quat, lin, ang), _ = jax.lax.scan(level, (pos, quat, lin, ang), (jnp.asarray(bodies), jnp.asarray(parents)))
    return BodyState(root_pos, root_quat, joint_pos, joint_vel, root_lin_vel, root_ang_vel, pos[:nbody], quat[:nbody], lin[:nbody], ang[:nbody])


def robot_body_state(tree, qpos, qvel) -> BodyState:
    """From MuJoCo's qpos/qvel of one robot (the free joint's angular velocity is in the pelvis frame)."""
    quat = qpos[3:7] / jnp.linalg.norm(qpos[3:7])
    return body_state(tree, qpos[:3], quat, qpos[7:], qvel[:3], quat_rotate(quat, qvel[3:6]), qvel[6:])


def reference_body_state(tree, frame) -> BodyState:
    """From a `MotionFrame` (world-frame root velocities)."""
    return body_state(tree, frame.root_pos, frame.root_quat, frame.joint_pos, frame.root_lin_vel, frame.root_ang_vel, frame.joint_vel)


def reference_qpos_qvel(frame):
    """MuJoCo qpos and qvel that put the robot on a reference `MotionFrame`."""
    quat = frame.root_quat / jnp.linalg.norm(frame.root_quat, axis=-1, keepdims=True)
    qpos = jnp.concatenate([frame.root_pos, quat, frame.joint_pos], axis=-1)
    local_ang = quat_rotate(quat_conjugate(quat), frame.root_ang_vel)
    qvel = jnp.concatenate([frame.root_lin_vel, local_ang, frame.joint_vel], axis=-1)
    return qpos, qvel


# -------------------------------------------------------------------------------- frame conversions


def gravity_in_root(root_quat):
    """The unit gravity direction seen from the pelvis (IMU): (0, 0, -1) when upright."""
    down = jnp.array([0.0, 0.0, -1.0], root_quat.dtype)
    return quat_rotate(quat_conjugate(root_quat), jnp.broadcast_to(down, root_quat.shape[:-1] + (3,)))


def to_root_frame(root_pos, root_quat, points):
    """World points (..., 3) into the root frame; `points` may have extra axes before the last."""
    extra = points.ndim - 1
    q = jnp.reshape(quat_conjugate(root_quat), (1,) * extra + (4,))
    return quat_rotate(jnp.broadcast_to(q, points.shape[:-1] + (4,)), points - root_pos)


def vector_to_root_frame(root_quat, vectors):
    """World directions or velocities (..., 3) into the root frame (no translation)."""
    q = jnp.broadcast_to(quat_conjugate(root_quat), vectors.shape[:-1] + (4,))
    return quat_rotate(q, vectors)


def rot6d(quat):
    """First two columns (c0, c1) of the rotation matrix of wxyz quaternions: (..., 4) -> (..., 6)."""
    m = quat_to_matrix(quat)
    return jnp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def relative_rot6d(root_quat, quats):
    """Orientations (..., 4) relative to the root, R_root^T R, as 6D."""
    q = jnp.broadcast_to(quat_conjugate(root_quat), quats.shape[:-1] + (4,))
    return rot6d(quat_multiply(q, quats))


def capsule_lowest_points(geom_body, geom_pos, geom_quat, geom_radius, geom_half_length, body_pos, body_quat):
    """Lowest world z of capsules (half_length 0: spheres) given their bodies' poses: (g,)."""
    q_body = body_quat[geom_body]
    centre = body_pos[geom_body] + quat_rotate(q_body, geom_pos)
    axis = quat_rotate(quat_multiply(q_body, geom_quat), jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0]), geom_pos.shape))
    return centre[..., 2] - geom_radius - geom_half_length * jnp.abs(axis[..., 2])


# --------------------------------------------------------------------------------------- the blocks


def proprio_values(state: BodyState, default_pose, last_action, prefix: str = "") -> dict:
    """One frame of proprioception (no noise) as blocks named like `proprio_layout`."""
    return {
        f"{prefix}joint_pos": state.joint_pos - default_pose,
        f"{prefix}joint_vel": state.joint_vel,
        f"{prefix}root_ang_vel": vector_to_root_frame(state.root_quat, state.root_ang_vel),
        f"{prefix}gravity": gravity_in_root(state.root_quat),
        f"{prefix}last_action": last_action,
    }


_SENSED = ("joint_pos", "joint_vel", "root_ang_vel", "gravity")


def proprio_noise_size(num_joints: int) -> int:
    """How many U[-1, 1] numbers `add_proprio_noise` consumes."""
    return 2 * num_joints + 6


def add_proprio_noise(values: dict, noise: NoiseConfig, u, prefix: str = "") -> dict:
    """Uniform noise on the sensed blocks of a proprioception frame (identity when noise is off).

    u: `proprio_noise_size(n)` U[-1, 1] numbers (one draw for all blocks keeps the compiled step small).
    """
    if not noise.enabled:
        return values
    out, start = dict(values), 0
    for name in _SENSED:
        x = out[prefix + name]
        size = x.shape[-1]
        out[prefix + name] = x + getattr(noise, name) * u[start:start + size]
        start += size
    return out


def add_keypoint_noise(goal_keypoints, noise: NoiseConfig, u):
    """Uniform noise on goal keypoints; u: U[-1, 1] numbers, as many as the keypoint coordinates."""
    if not noise.enabled:
        return goal_keypoints
    return goal_keypoints + noise.keypoints * u.reshape(goal_keypoints.shape)


def student_goal_values(now, future) -> dict:
    """The student's goal blocks from the reference alone (`now`: the current reference `MotionFrame`,
    `future`: one with a leading (T,) axis), in the current reference's heading frame."""
    heading = heading_quat(now.root_quat)
    origin = now.root_pos * jnp.array([1.0, 1.0, 0.0], now.root_pos.dtype)
    return {
        "goal_keypoints": to_root_frame(origin, heading, future.keypoint_pos),
        "goal_root_lin_vel": vector_to_root_frame(heading, future.root_lin_vel),
        "goal_root_ang_vel": vector_to_root_frame(heading, future.root_ang_vel),
        "goal_gravity": gravity_in_root(future.root_quat),
    }


def goal_keypoints_in_root(state: BodyState, future_keypoints):
    """Goal keypoints (T, K, 3, world) in the robot's root frame."""
    return to_root_frame(state.root_pos, state.root_quat, future_keypoints)


def privileged_values(
    state: BodyState,
    keypoint_ids,
    default_pose,
    last_action,
    foot_contact,
    future,  # MotionFrame with a leading (T,) axis
    randomization: dict | None,
) -> dict:
    """Every privileged block but noise, named like `privileged_layout`."""
    q = state.root_quat
    rel_pos = to_root_frame(state.root_pos, q, state.body_pos[keypoint_ids])
    values = {
        "root_height": state.root_pos[2:3],
        "gravity": gravity_in_root(q),
        "root_lin_vel": vector_to_root_frame(q, state.root_lin_vel),
        "root_ang_vel": vector_to_root_frame(q, state.root_ang_vel),
        "joint_pos": state.joint_pos - default_pose,
        "joint_vel": state.joint_vel,
        "last_action": last_action,
        "body_pos": rel_pos,
        "body_rot": relative_rot6d(q, state.body_quat[keypoint_ids]),
        "body_lin_vel": vector_to_root_frame(q, state.body_lin_vel[keypoint_ids]),
        "body_ang_vel": vector_to_root_frame(q, state.body_ang_vel[keypoint_ids]),
        "foot_contact": foot_contact,
        "goal_keypoints": goal_keypoints_in_root(state, future.keypoint_pos),
        "goal_root_rot": relative_rot6d(q, future.root_quat),
        "goal_joint_pos": future.joint_pos - default_pose,
    }
    if randomization is not None:
        values.update(randomization)
    return values


__all__ = [
    "Block", "BodyState", "NoiseConfig", "ObservationConfig", "add_keypoint_noise", "add_proprio_noise", "body_state",
    "capsule_lowest_points", "flatten", "goal_keypoints_in_root", "gravity_in_root", "layout_size",
    "layout_slices", "layout_table", "privileged_layout", "privileged_values", "proprio_layout", "proprio_values",
    "proprio_noise_size", "reference_body_state", "reference_qpos_qvel", "relative_rot6d", "robot_body_state", "rot6d",
    "STUDENT_GOAL_BLOCKS", "student_goal_values", "student_layout", "to_root_frame", "unflatten", "vector_to_root_frame",
]  # fmt: skip
