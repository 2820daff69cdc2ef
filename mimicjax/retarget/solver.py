"""Batched keypoint inverse kinematics of a robot: every frame of every clip in one jitted optimisation.

The unknowns are, per frame, the root position, a rotation of the root away from its heading-only warm
start, and one unconstrained number per joint mapped into the joint's range by a sigmoid (so no solution
can break a joint limit). A fixed number of Adam steps runs in one `lax.scan`. The cost, averaged over
frames, is a sum of small named terms (`COST_TERMS`), each weighted by a `RetargetConfig` field:

  sites        squared distance of the robot sites to their goals
  orientation  1 - <q, q_goal>^2 for pelvis, torso, feet and hands (weighted per body)
  smoothness   squared joint and root accelerations (finite differences within each clip)
  floor        squared depth of any sole point below z = 0
  contact      squared height of the sole points while the human's foot is on the ground
  posture      a faint pull towards the default pose, for joints the goals leave free

The floor and contact weights ramp up over the first `FEET_RAMP_FRACTION` of the steps; the smoothness
weight ramps up over `RetargetConfig.smoothness_ramp` (fractions of the steps), once the per-frame poses
have been found. Frames of all
clips are packed into one flat axis padded to a multiple of `FRAME_BUCKET`, so jobs of similar size reuse
one compiled program. Arrays are component-first with frames last ((3, S, F) positions, (4, O, F)
quaternions; see `forward_kinematics_components`), which XLA vectorises well on CPU, and the frame axis
can be split over devices.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from mimicjax.math.rotations import quat_rotate
from mimicjax.retarget.correspondence import RobotGeometry
from mimicjax.robots.kinematics import KinematicTree, quat_multiply_components, forward_kinematics_components, rotate_components

FRAME_BUCKET = 256
FEET_RAMP_FRACTION = 0.5
COST_TERMS = ("sites", "orientation", "smoothness", "floor", "contact", "posture")


@dataclasses.dataclass(frozen=True)
class RetargetConfig:
    """Weights and optimiser settings of the retargeting (all overridable)."""

    steps: int = 200
    learning_rate: float = 0.1
    final_learning_rate_fraction: float = 0.05
    sites: float = 1.0
    orientation: float = 0.1
    orientation_per_body: tuple | None = None  # per oriented body of the robot; None: the robot's own weights
    smoothness: float = 1e-5  # per (rad/s^2)^2 and (m/s^2)^2
    # The smoothness weight rises from 0 to full between these fractions of the steps. At full weight from
    # the start it couples every frame to its neighbours while the poses are still far off, and Adam crawls
    # (14 deg mean limb error on real clips instead of 4.5); faded in later it only removes frame-to-frame
    # noise (experiments/results/retarget_generalisation.md).
    smoothness_ramp: tuple = (0.5, 0.8)
    floor: float = 10.0
    contact: float = 1.0
    posture: float = 1e-4
    align_heading: bool = True


def config_with_overrides(config: RetargetConfig, overrides) -> RetargetConfig:
    """`config` with "name=value" overrides (e.g. from `--set floor=5`), typed like the field's default."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for item in overrides or ():
        name, sep, text = item.partition("=")
        name = name.strip().removeprefix("retarget.")
        if not sep or name not in fields:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE with NAME one of {sorted(fields)}")
        current = getattr(config, name)
        try:
            if isinstance(current, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                value = text.lower() in ("true", "1")
            elif isinstance(current, tuple) or name == "orientation_per_body":
                value = tuple(float(v) for v in text.split(","))
                if current is not None and len(value) != len(current):
                    raise ValueError(f"{len(value)} values, expected {len(current)}")
            else:
                value = type(current)(text)
        except ValueError as error:
            raise ValueError(f"--set {item!r}: cannot read {text!r} as {type(current).__name__} ({error})") from None
        changes[name] = value
    return dataclasses.replace(config, **changes)


@struct.dataclass
class Problem:
    """Everything the optimisation reads (a pytree of arrays).

    Component-first layout with the flat frame axis F last (see `forward_kinematics_components`); all
    leaves can be split along F over devices.
    """

    sites: jax.Array  # (3, S, F) goal positions
    orientations: jax.Array  # (4, O, F) goal orientations, wxyz
    contact: jax.Array  # (2, F) 1 while the human's left/right foot is on the ground
    valid: jax.Array  # (F,) 1 for real frames, 0 for padding
    prev_frame: jax.Array  # (F,) int: the previous frame of the same clip (itself at the clip's start)
    next_frame: jax.Array  # (F,) int
    interior: jax.Array  # (F,) 1 where both neighbours exist
    fps: jax.Array  # (F,)
    init_root_pos: jax.Array  # (3, F)
    init_root_quat: jax.Array  # (4, F)


@struct.dataclass
class RobotConstants:
    """Robot constants for the cost (a pytree of arrays, shaped to broadcast against (..., F))."""

    tree: KinematicTree
    site_body: jax.Array  # (S,)
    site_offset: jax.Array  # (3, S, 1)
    oriented_body: jax.Array  # (O,)
    orientation_weight: jax.Array  # (O, 1)
    sole_body: jax.Array  # (2,)
    sole_points: jax.Array  # (3, 2, P, 1)
    joint_low: jax.Array  # (n, 1)
    joint_high: jax.Array  # (n, 1)
    default_pose: jax.Array  # (n, 1)


def orientation_weights(geometry: RobotGeometry, config: RetargetConfig) -> np.ndarray:
    """Per oriented body: the config's override, or the robot's own weights."""
    if config.orientation_per_body is None:
        return geometry.oriented_weight
    weights = np.asarray(config.orientation_per_body, np.float64)
    if weights.shape != geometry.oriented_weight.shape:
        raise ValueError(f"orientation_per_body has {weights.size} weights but the {geometry.robot} orients "
                         f"{geometry.oriented_weight.size} bodies")
    return weights


def robot_constants(geometry: RobotGeometry, tree: KinematicTree, config: RetargetConfig) -> RobotConstants:
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    # Keep the sigmoid's output strictly inside the range even after float32 rounding.
    margin = 1e-4 * (geometry.joint_range[:, 1] - geometry.joint_range[:, 0])
    soles = np.stack([geometry.sole_points, geometry.sole_points_right])  # (2, P, 3)
    return RobotConstants(
        tree=tree,
        site_body=jnp.asarray(geometry.site_body),
        site_offset=f32(geometry.site_offset.T[..., None]),
        oriented_body=jnp.asarray(geometry.oriented_body),
        orientation_weight=f32(np.asarray(orientation_weights(geometry, config))[:, None]),
        sole_body=jnp.asarray(geometry.sole_body),
        sole_points=f32(np.moveaxis(soles, -1, 0)[..., None]),
        joint_low=f32(geometry.joint_range[:, :1] + margin[:, None]),
        joint_high=f32(geometry.joint_range[:, 1:] - margin[:, None]),
        default_pose=f32(geometry.default_pose[:, None]),
    )


def joint_angles(robot: RobotConstants, logits):
    return robot.joint_low + (robot.joint_high - robot.joint_low) * jax.nn.sigmoid(logits)


def joint_logits(robot: RobotConstants, angles):
    fraction = (angles - robot.joint_low) / (robot.joint_high - robot.joint_low)
    fraction = jnp.clip(fraction, 1e-3, 1.0 - 1e-3)
    return jnp.log(fraction) - jnp.log1p(-fraction)


def _rotvec_to_quat(r):
    """(3, ...) rotation vectors -> (4, ...) quaternions, with finite gradients at zero."""
    theta_sq = jnp.sum(r * r, axis=0)
    small = theta_sq < 1e-8
    theta = jnp.sqrt(jnp.where(small, 1.0, theta_sq))
    half_sinc = jnp.where(small, 0.5 - theta_sq / 48.0, jnp.sin(0.5 * theta) / theta)
    w = jnp.where(small, 1.0 - theta_sq / 8.0, jnp.cos(0.5 * theta))
    return jnp.concatenate([w[None], r * half_sinc[None]], axis=0)


def decode(robot: RobotConstants, problem: Problem, params: dict):
    """Root position (3, F), root quaternion (4, F, wxyz) and joint angles (n, F) from the variables."""
    root_quat = quat_multiply_components(problem.init_root_quat, _rotvec_to_quat(params["root_rot"]))
    return problem.init_root_pos + params["root_pos"], root_quat, joint_angles(robot, params["logits"])


def points_on_bodies(body_pos, body_quat, bodies, offsets):
    """World positions of points fixed on bodies: (..., nbody, 3/4) poses, (k,) body ids, (k, 3) offsets."""
    return body_pos[..., bodies, :] + quat_rotate(body_quat[..., bodies, :], offsets)


def sole_heights(robot: RobotConstants, body_pos, body_quat):
    """(..., 2, P) heights of each foot's sole points, from (..., nbody, 3/4) body poses."""
    points = jnp.moveaxis(robot.sole_points[..., 0], 0, -1)  # (2, P, 3)
    pos = body_pos[..., robot.sole_body, None, :]
    quat = body_quat[..., robot.sole_body, None, :]
    return (pos + quat_rotate(quat, points))[..., 2]


def fade_in(index, steps: int, start: float, end: float):
    """0 before `start * steps`, rising linearly to 1 at `end * steps` (fractions of the steps); a step
    at `start` when `end <= start`."""
    if end <= start:
        return (index >= start * steps).astype(jnp.float32)
    return jnp.clip((index - start * steps) / ((end - start) * steps), 0.0, 1.0)


def _second_difference(x, problem: Problem):
    """Acceleration of (..., F) per-frame values within each clip."""
    return (x[..., problem.next_frame] - 2.0 * x + x[..., problem.prev_frame]) * problem.fps**2


def cost_terms(params: dict, robot: RobotConstants, problem: Problem) -> dict:
    """Each cost term averaged over the real frames (unweighted)."""
    root_pos, root_quat, q = decode(robot, problem, params)
    body_pos, body_quat = forward_kinematics_components(robot.tree, root_pos, root_quat, q)  # (3|4, nbody, F)
    frames = jnp.maximum(problem.valid.sum(), 1.0)
    per_frame = lambda x: jnp.sum(x * problem.valid) / frames  # noqa: E731

    sites = body_pos[:, robot.site_body] + rotate_components(body_quat[:, robot.site_body], robot.site_offset)
    site_err = jnp.sum((sites - problem.sites) ** 2, axis=(0, 1))
    dots = jnp.sum(body_quat[:, robot.oriented_body] * problem.orientations, axis=0)  # (O, F)
    orient_err = jnp.sum(robot.orientation_weight * (1.0 - dots**2), axis=0)
    accel = jnp.sum(_second_difference(q, problem) ** 2, 0) + jnp.sum(_second_difference(root_pos, problem) ** 2, 0)
    foot_pos = body_pos[:, robot.sole_body][:, :, None]  # (3, 2, 1, F)
    foot_quat = body_quat[:, robot.sole_body][:, :, None]
    heights = (foot_pos + rotate_components(foot_quat, robot.sole_points))[2]  # (2, P, F)
    below = jnp.sum(jnp.minimum(heights, 0.0) ** 2, axis=(0, 1))
    touching = jnp.sum(problem.contact[:, None] * heights**2, axis=(0, 1))
    posture = jnp.sum((q - robot.default_pose) ** 2, 0)
    return {
        "sites": per_frame(site_err),
        "orientation": per_frame(orient_err),
        "smoothness": per_frame(accel * problem.interior),
        "floor": per_frame(below),
        "contact": per_frame(touching),
        "posture": per_frame(posture),
    }


def total_cost(params, robot, problem, weights: dict):
    terms = cost_terms(params, robot, problem)
    return sum(weights[name] * terms[name] for name in COST_TERMS), terms


def initial_params(robot: RobotConstants, problem: Problem) -> dict:
    num = problem.valid.shape[0]
    return {
        "root_pos": jnp.zeros_like(problem.init_root_pos),
        "root_rot": jnp.zeros_like(problem.init_root_pos),
        "logits": jnp.broadcast_to(joint_logits(robot, robot.default_pose), (robot.default_pose.shape[0], num)),
    }


@functools.partial(jax.jit, static_argnames=("steps", "learning_rate", "final_fraction", "smoothness_ramp"))
def solve(robot: RobotConstants, problem: Problem, weights: dict, steps: int, learning_rate: float, final_fraction: float,
          smoothness_ramp: tuple = (0.0, 0.0)):
    """Run `steps` Adam steps from the warm start; `smoothness_ramp` as in `RetargetConfig`.

    Returns root_pos (F, 3), root_quat (F, 4), joint_pos (F, n) and the final cost terms.
    """
    schedule = optax.cosine_decay_schedule(learning_rate, steps, alpha=final_fraction)
    optimiser = optax.adam(schedule)
    params = initial_params(robot, problem)
    grad_fn = jax.grad(lambda p, w: total_cost(p, robot, problem, w)[0])

    def step(carry, index):
        params, state = carry
        # The feet terms fade in over the first half: pulling the feet to the floor before the legs
        # have found the pose makes Adam crawl (a squat would need knees and root to move together).
        feet = fade_in(index, steps, 0.0, FEET_RAMP_FRACTION)
        w = {**weights, "floor": weights["floor"] * feet, "contact": weights["contact"] * feet,
             "smoothness": weights["smoothness"] * fade_in(index, steps, *smoothness_ramp)}
        updates, state = optimiser.update(grad_fn(params, w), state)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, optimiser.init(params)), jnp.arange(steps, dtype=jnp.float32))
    root_pos, root_quat, q = decode(robot, problem, params)
    _, terms = total_cost(params, robot, problem, weights)
    return root_pos.T, root_quat.T, q.T, terms


def pack(clips, bucket: int = FRAME_BUCKET) -> tuple[Problem, np.ndarray]:
    """Pack `ClipTargets` into one flat, padded `Problem`; also returns each clip's first frame."""
    lengths = np.array([c.num_frames for c in clips])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = int(lengths.sum())
    padded = max(bucket, int(np.ceil(total / bucket)) * bucket)
    pad = padded - total

    def cat(arrays):
        """Frames of all clips, padded by repeating the last real frame, with the frame axis moved last."""
        x = np.concatenate(arrays, axis=0)
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)], axis=0)
        return jnp.asarray(np.moveaxis(x, 0, -1) if x.ndim == 2 else np.moveaxis(x, (0, -1), (-1, 0)), jnp.float32)

    index = np.arange(padded)
    prev_frame = index - 1
    next_frame = index + 1
    interior = np.zeros(padded)
    for start, length in zip(starts, lengths):
        prev_frame[start] = start
        next_frame[start + length - 1] = start + length - 1
        interior[start + 1 : start + length - 1] = 1.0
    prev_frame[total:] = index[total:]
    next_frame[total:] = index[total:]
    valid = (index < total).astype(np.float32)
    problem = Problem(
        sites=cat([c.sites for c in clips]),
        orientations=cat([c.orientations for c in clips]),
        contact=cat([c.contact.astype(np.float32) for c in clips]) * valid,
        valid=jnp.asarray(valid),
        prev_frame=jnp.asarray(prev_frame, jnp.int32),
        next_frame=jnp.asarray(next_frame, jnp.int32),
        interior=jnp.asarray(interior, jnp.float32),
        fps=jnp.asarray(np.concatenate([np.concatenate([np.full(c.num_frames, c.fps) for c in clips]), np.full(pad, clips[-1].fps)]), jnp.float32),
        init_root_pos=cat([c.sites[:, 0] for c in clips]),
        init_root_quat=cat([c.init_root_quat for c in clips]),
    )
    return problem, starts


def weights_of(config: RetargetConfig) -> dict:
    return {name: jnp.float32(getattr(config, name)) for name in COST_TERMS}


__all__ = ["COST_TERMS", "FRAME_BUCKET", "Problem", "RetargetConfig", "RobotConstants", "config_with_overrides", "cost_terms", "decode", "fade_in", "robot_constants",
           "pack", "points_on_bodies", "sole_heights", "solve", "weights_of"]
