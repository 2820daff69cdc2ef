"""Reward terms of the tracking env: one pure function and one registry entry per term.

A term is a function `(state, params, constants) -> scalar` of
    state      a `RewardState`: the robot and its reference after the step, filled once per step by the env;
    params     {name: value} of the term's own parameters, from the `RewardConfig`;
    constants  `RewardConstants`: what the robot fixes (keypoint bodies and weights, joint ranges, torques).
Its entry in `TERMS` gives its default weight and parameters. The registry makes `RewardConfig`, the sum
and the names of the logged metrics, so a new term is one function and one entry in this file:

    def upright(state, params, constants):  # 1 with the pelvis upright, towards 0 as it tilts
        tilt = orientation_error(heading_quat(state.robot.root_quat), state.robot.root_quat)
        return kernel(jnp.square(tilt), params["upright_sigma"])

    TERMS = {..., "upright": Term(upright, weight=0.2, params={"upright_sigma": 0.5})}

Each term returns an unweighted scalar; the env multiplies it by its weight, sums, and logs both the
raw value (`reward_raw/<name>`) and the weighted contribution (`reward/<name>`). Tracking terms are
kernels `exp(-error^2 / sigma^2)` in [0, 1] (1 at perfect tracking); regularisers are non-negative
costs with negative weights. Setting a weight to 0 removes a term from the sum (it is still logged).

`RewardConfig` has one field per term, its weight, named after the term (`keypoint`, `action_rate`, ...),
and one per parameter, named as in the term's entry (`keypoint_sigma`, `floor_clearance`, ...), with the
registry's defaults: `--set env.rewards.keypoint=2` and `--set env.rewards.keypoint_sigma=0.2` set them.
It also has the options in `RewardOptions`, which decide what the state and constants hold and are
shared with the env's error metrics: the frame of the reference keypoints and the keypoint weights.
`config_class` builds such a class from another registry (a test's, with a term of its own).

The keypoint term is GenMimic's keypoint-weighted tracking reward,
    r = sum_k w_k exp(-|p_k - p^_k|^2 / sigma^2) / sum_k w_k,
with w_k by keypoint group (`Robot.keypoint_group_weights`: end effectors, then upper body, then lower
body) and per-keypoint overrides from the config.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable, ClassVar, Literal, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mimicjax.envs.observations import BodyState
from mimicjax.math.rotations import heading_quat, quat_conjugate, quat_multiply, quat_rotate, quat_to_axis_angle

# ------------------------------------------------------------------------------ what terms read


@struct.dataclass
class RewardState:
    """The robot and its reference after one control step of one env: everything a term may read."""

    robot: BodyState  # every body's pose and velocity, world frame
    reference: BodyState  # the same for the reference frame of this step
    keypoint_pos: jax.Array  # (K, 3) the robot's keypoint bodies
    ref_keypoint_pos: jax.Array  # (K, 3) their reference, in `RewardConfig.keypoint_frame`
    action: jax.Array  # (n,) this step's action
    last_action: jax.Array  # (n,) the previous step's
    actuator_force: jax.Array  # (n,) N m
    geom_lowest_z: jax.Array  # (G,) lowest point of each non-foot collision geom, m
    self_contacts: jax.Array  # () how many self-collisions are active
    terminated: jax.Array  # () 1.0 when this step ended the episode as a failure


@struct.dataclass
class RewardConstants:
    """What the robot and the config fix for every step (see `constants`)."""

    keypoint_ids: np.ndarray  # (K,) body index of each keypoint
    keypoint_weights: np.ndarray  # (K,) see `keypoint_weights`
    joint_low: np.ndarray  # (n,) rad
    joint_high: np.ndarray  # (n,) rad
    effort_limit: np.ndarray  # (n,) N m, each joint's peak torque


Params = Mapping[str, Any]
TermFunction = Callable[[RewardState, Params, RewardConstants], jax.Array]


@dataclasses.dataclass(frozen=True)
class Term:
    """A registry entry: the term's function, its default weight and its parameters with their defaults.

    Parameter names are `RewardConfig` field names, so they are unique across terms; by convention
    they start with the term's name. A parameter's type is its default's (a number, bool or string).
    """

    function: TermFunction
    weight: float
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


# ------------------------------------------------------------------------------------- kernels


def kernel(squared_error, sigma):
    return jnp.exp(-squared_error / (sigma * sigma))


def keypoint_tracking(pos, ref_pos, weights, sigma):
    """GenMimic's keypoint-weighted tracking reward; pos, ref_pos (K, 3), weights (K,)."""
    per_keypoint = kernel(jnp.sum(jnp.square(pos - ref_pos), axis=-1), sigma)
    return jnp.sum(weights * per_keypoint, axis=-1) / jnp.sum(weights)


def position_tracking(pos, ref_pos, sigma):
    return kernel(jnp.sum(jnp.square(pos - ref_pos), axis=-1), sigma)


def orientation_error(quat, ref_quat):
    """Angle (rad) of the rotation between two wxyz orientations."""
    delta = quat_multiply(quat_conjugate(ref_quat), quat)
    return jnp.linalg.norm(quat_to_axis_angle(delta), axis=-1)


def orientation_tracking(quat, ref_quat, sigma):
    return kernel(jnp.square(orientation_error(quat, ref_quat)), sigma)


def mean_square_tracking(x, ref, sigma):
    """exp(-mean((x - ref)^2) / sigma^2) over the last axis (joint angles or velocities)."""
    return kernel(jnp.mean(jnp.square(x - ref), axis=-1), sigma)


def body_velocity_tracking(vel, ref_vel, sigma):
    """exp(-mean_b |v_b - v^_b|^2 / sigma^2) for body velocities (B, 3)."""
    return kernel(jnp.mean(jnp.sum(jnp.square(vel - ref_vel), axis=-1), axis=-1), sigma)


# --------------------------------------------------------------------------------------- terms


def keypoint(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Keypoint-weighted tracking of the keypoint bodies; keypoint_sigma in m."""
    return keypoint_tracking(state.keypoint_pos, state.ref_keypoint_pos, constants.keypoint_weights, params["keypoint_sigma"])


def root_pos(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Tracking of the root (pelvis) position in the world; root_pos_sigma in m."""
    return position_tracking(state.robot.root_pos, state.reference.root_pos, params["root_pos_sigma"])


def root_ori(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Tracking of the root orientation; root_ori_sigma in rad."""
    return orientation_tracking(state.robot.root_quat, state.reference.root_quat, params["root_ori_sigma"])


def joint_pos(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Tracking of the joint angles; joint_pos_sigma in rad, on the mean squared joint error."""
    return mean_square_tracking(state.robot.joint_pos, state.reference.joint_pos, params["joint_pos_sigma"])


def joint_vel(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Tracking of the joint velocities; joint_vel_sigma in rad/s, on the mean squared error."""
    return mean_square_tracking(state.robot.joint_vel, state.reference.joint_vel, params["joint_vel_sigma"])


def body_lin_vel(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Tracking of the keypoint bodies' linear velocities; body_lin_vel_sigma in m/s."""
    ids = constants.keypoint_ids
    return body_velocity_tracking(state.robot.body_lin_vel[ids], state.reference.body_lin_vel[ids], params["body_lin_vel_sigma"])


def body_ang_vel(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Tracking of the keypoint bodies' angular velocities; body_ang_vel_sigma in rad/s."""
    ids = constants.keypoint_ids
    return body_velocity_tracking(state.robot.body_ang_vel[ids], state.reference.body_ang_vel[ids], params["body_ang_vel_sigma"])


def action_rate(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Squared change of the action since the previous step, summed over joints."""
    return jnp.sum(jnp.square(state.action - state.last_action), axis=-1)


def torque(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Sum of squared actuator torques, each relative to its joint's peak torque."""
    return jnp.sum(jnp.square(state.actuator_force / constants.effort_limit), axis=-1)


def joint_limit(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Radians past the soft joint limits, summed: the penalty starts at joint_limit_soft_fraction of
    each joint's range (its central part)."""
    low, high, q = constants.joint_low, constants.joint_high, state.robot.joint_pos
    centre, half = 0.5 * (low + high), 0.5 * (high - low) * params["joint_limit_soft_fraction"]
    return jnp.sum(jnp.maximum(q - (centre + half), 0.0) + jnp.maximum((centre - half) - q, 0.0), axis=-1)


def undesired_contacts(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """Non-foot geoms within floor_clearance (m) of the floor plus active self-collisions (a count)."""
    near_floor = jnp.sum(state.geom_lowest_z < params["floor_clearance"], axis=-1).astype(jnp.float32)
    return near_floor + jnp.asarray(state.self_contacts, jnp.float32)


def termination(state: RewardState, params: Params, constants: RewardConstants) -> jax.Array:
    """1 on the step that ends the episode as a failure."""
    return state.terminated.astype(jnp.float32)


# The registry: every term with its default weight (per control step) and parameters. Its order is
# the order of the sum and of the logged metrics.
TERMS: Mapping[str, Term] = types.MappingProxyType({
    "keypoint": Term(keypoint, weight=1.0, params={"keypoint_sigma": 0.3}),
    "root_pos": Term(root_pos, weight=0.5, params={"root_pos_sigma": 0.3}),
    "root_ori": Term(root_ori, weight=0.5, params={"root_ori_sigma": 0.4}),
    "joint_pos": Term(joint_pos, weight=0.5, params={"joint_pos_sigma": 0.3}),
    "joint_vel": Term(joint_vel, weight=0.1, params={"joint_vel_sigma": 2.0}),
    "body_lin_vel": Term(body_lin_vel, weight=0.5, params={"body_lin_vel_sigma": 1.0}),
    "body_ang_vel": Term(body_ang_vel, weight=0.5, params={"body_ang_vel_sigma": 3.14}),
    "action_rate": Term(action_rate, weight=-0.1),
    "torque": Term(torque, weight=-0.01),
    "joint_limit": Term(joint_limit, weight=-10.0, params={"joint_limit_soft_fraction": 0.9}),
    "undesired_contacts": Term(undesired_contacts, weight=-0.1, params={"floor_clearance": 0.02}),
    "termination": Term(termination, weight=-10.0),
})


# ------------------------------------------------------------------------------------ the config


@dataclasses.dataclass(frozen=True)
class RewardOptions:
    """The reward options that are not one term's: they decide what the state and constants hold."""

    # "anchored": the reference keypoints are moved so the reference root sits at the robot's root
    # (x, y and heading; height kept), so the keypoint term scores the posture and the root terms score
    # drift. "world": raw world positions. The `error/keypoint` metric uses the same frame.
    keypoint_frame: Literal["anchored", "world"] = "anchored"
    # Keypoint weights: group weights (groups not named keep the robot's `keypoint_group_weights`) and per-body
    # overrides. `--set env.rewards.keypoint_group_weights.end_effector=3` changes one group.
    keypoint_group_weights: tuple[tuple[str, float], ...] | None = None
    keypoint_weight_overrides: tuple[tuple[str, float], ...] = ()
    # The registry the config was made from (not a field: `config_class` sets it on the class).
    terms: ClassVar[Mapping[str, Term]] = types.MappingProxyType({})


def config_class(terms: Mapping[str, Term], name: str = "RewardConfig") -> type:
    """A frozen config dataclass: `RewardOptions` plus a weight field per term (named after it) and a
    field per parameter, defaulting to the registry's values; `terms` is kept as the class's `terms`."""
    taken = {field.name for field in dataclasses.fields(RewardOptions)} | {"terms"}
    fields, lines = [], []
    for term_name, term in terms.items():
        entries = {term_name: float(term.weight), **term.params}
        for field_name, default in entries.items():
            if field_name in taken:
                raise ValueError(f"reward term {term_name!r}: the config already has a field {field_name!r}; "
                                 "give it another name")
            if not isinstance(default, (bool, int, float, str)):
                raise TypeError(f"reward term {term_name!r}: parameter {field_name!r} must default to a number, bool "
                                f"or string, got {default!r}")
            taken.add(field_name)
            fields.append((field_name, type(default), dataclasses.field(default=default)))
        lines.append(", ".join(f"{key}={value!r}" for key, value in entries.items()))
    doc = "Weight (the field named after the term) and parameters of each reward term, with defaults:\n    "
    cls = dataclasses.make_dataclass(
        name, fields, bases=(RewardOptions,), frozen=True,
        namespace={"terms": types.MappingProxyType(dict(terms)), "__doc__": doc + "\n    ".join(lines)},
    )
    cls.__module__ = __name__  # where pickle and readers look it up
    return cls


RewardConfig = config_class(TERMS)


def keypoint_weights(robot, config: RewardOptions) -> np.ndarray:
    """(K,) weights of `robot.keypoint_bodies` from group weights and per-body overrides."""
    # Groups not named keep the robot's default weight, so one group can be changed alone.
    groups = dict(zip(robot.keypoint_groups, np.asarray(robot.keypoint_weights, np.float64)))
    for group, weight in config.keypoint_group_weights or ():
        if group not in groups:
            raise ValueError(f"rewards.keypoint_group_weights names the group {group!r}, which the robot does not have; groups: {sorted(groups)}")
        groups[group] = float(weight)
    out = np.array([groups[g] for g in robot.keypoint_groups])
    for name, weight in config.keypoint_weight_overrides:
        if name not in robot.keypoint_bodies:
            raise ValueError(f"rewards.keypoint_weight_overrides names {name!r}, which is not a keypoint; keypoints: {list(robot.keypoint_bodies)}")
        out[robot.keypoint_bodies.index(name)] = float(weight)
    if np.any(out < 0) or out.sum() <= 0:
        raise ValueError(f"keypoint weights must be non-negative with a positive sum, got {out.tolist()}")
    return out.astype(np.float32)


def constants(robot, config: RewardOptions) -> RewardConstants:
    """The `RewardConstants` of `robot` under `config`."""
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return RewardConstants(
        keypoint_ids=np.asarray(robot.keypoint_body_ids),
        keypoint_weights=keypoint_weights(robot, config),
        joint_low=f32(robot.joint_range[:, 0]),
        joint_high=f32(robot.joint_range[:, 1]),
        effort_limit=f32(robot.effort_limit),
    )


# ------------------------------------------------------------------------------- sum and metrics


def weights(config: RewardOptions, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """{term: weight} of every term of `config`, or of `overrides` where it names the term."""
    overrides = overrides or {}
    return {name: overrides[name] if name in overrides else float(getattr(config, name)) for name in config.terms}


def compute(
    state: RewardState, config: RewardOptions, constants: RewardConstants, overrides: Mapping[str, Any] | None = None
) -> dict[str, jax.Array]:
    """Raw (unweighted) value of every term of `config`, each with its parameters from `config` (or from
    `overrides`, field name -> value, where it names them)."""
    overrides = overrides or {}
    return {
        name: term.function(state, {param: overrides.get(param, getattr(config, param)) for param in term.params}, constants)
        for name, term in config.terms.items()
    }


def total(raw: Mapping[str, jax.Array], config: RewardOptions, overrides: Mapping[str, Any] | None = None):
    """Weighted sum and the weighted contributions."""
    w = weights(config, overrides)
    weighted = {name: w[name] * raw[name] for name in config.terms}
    return sum(weighted.values()), weighted


def metric_names(config: RewardOptions) -> tuple[str, ...]:
    """What `evaluate` logs: the total, then every term weighted and raw."""
    terms = tuple(config.terms)
    return ("reward/total",) + tuple(f"reward/{t}" for t in terms) + tuple(f"reward_raw/{t}" for t in terms)


def evaluate(
    state: RewardState, config: RewardOptions, constants: RewardConstants, overrides: Mapping[str, Any] | None = None
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The step's reward and its metrics (`metric_names`). A term that is not finite counts 0, so one
    bad step (e.g. a blown-up simulation, which terminates) cannot poison the sum.

    `overrides` (RewardConfig field name -> value) replaces weights and numeric parameters of `config`;
    its values may be traced, e.g. one per variant of a vmapped sweep (`mimicjax.rl.variants`)."""
    raw = compute(state, config, constants, overrides)
    raw = {name: jnp.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0) for name, value in raw.items()}
    reward, weighted = total(raw, config, overrides)
    metrics = {"reward/total": reward}
    metrics.update({f"reward/{t}": weighted[t] for t in config.terms})
    metrics.update({f"reward_raw/{t}": raw[t] for t in config.terms})
    return reward, metrics


# ----------------------------------------------------------------------------------------- helpers


def anchor_reference(points, ref_root_pos, ref_root_quat, root_pos, root_quat):
    """Move reference points (..., 3) so the reference root's x, y and heading match the robot's root.

    Heights stay the reference's: a robot that sinks or tips is still penalised.
    """
    turn = quat_multiply(heading_quat(root_quat), quat_conjugate(heading_quat(ref_root_quat)))
    anchor = jnp.concatenate([root_pos[:2], ref_root_pos[2:3]])
    turn = jnp.broadcast_to(turn, points.shape[:-1] + (4,))
    return anchor + quat_rotate(turn, points - ref_root_pos)


__all__ = [
    "RewardConfig", "RewardConstants", "RewardOptions", "RewardState", "TERMS", "Term", "action_rate",
    "anchor_reference", "body_ang_vel", "body_lin_vel", "body_velocity_tracking", "compute", "config_class",
    "constants", "evaluate", "heading_quat", "joint_limit", "joint_pos", "joint_vel", "kernel", "keypoint",
    "keypoint_tracking", "keypoint_weights", "mean_square_tracking", "metric_names", "orientation_error",
    "orientation_tracking", "position_tracking", "root_ori", "root_pos", "termination", "torque", "total",
    "undesired_contacts", "weights",
]  # fmt: skip
