"""Domain randomisation of the tracking env: per-env parameters drawn at reset, kept in the state.

`sample(config, rng, nbody, nu)` draws a `Params` pytree for one env (nominal values when randomisation
is off). The per-env model is made inside the per-env step by replacing fields of `sim.model`
(`randomized_model`), so under `vmap` only those fields carry an env axis; the model is never batched
as a whole. What is randomised:

* floor friction: the sliding friction of the foot-floor contact pairs (`pair_friction`), scaled;
* link masses (and inertias, so the shape of each link's inertia is kept), scaled per body;
* the torso's centre of mass, offset;
* PD gains: stiffness and damping scaled per actuator (`actuator_gainprm`/`actuator_biasprm`);
* default joint offsets: the pose actions are relative to is off by a small per-joint angle (a
  calibration error);
* pushes: random root velocity kicks at random intervals;
* action delay: the applied action is 0..`max_action_delay` control steps old (a small buffer).

Observation noise lives in `observations.NoiseConfig`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@dataclasses.dataclass(frozen=True)
class RandomizationConfig:
    enabled: bool = True
    friction_range: tuple[float, float] = (0.5, 1.25)  # scale of the foot-floor sliding friction
    mass_scale_range: tuple[float, float] = (0.9, 1.1)  # per link
    torso_com_offset: tuple[float, float, float] = (0.025, 0.05, 0.05)  # m, +- per axis
    kp_scale_range: tuple[float, float] = (0.9, 1.1)  # per actuator
    kd_scale_range: tuple[float, float] = (0.9, 1.1)  # per actuator
    joint_offset: float = 0.01  # rad, +- per joint
    push_interval: tuple[float, float] = (1.0, 3.0)  # s between kicks
    push_lin_vel: tuple[float, float, float] = (0.5, 0.5, 0.2)  # m/s, +- added to the root velocity
    push_ang_vel: tuple[float, float, float] = (0.52, 0.52, 0.78)  # rad/s, +- (pelvis frame)
    max_action_delay: int = 1  # control steps; the buffer holds max_action_delay + 1 actions

    @property
    def pushes(self) -> bool:
        return self.enabled and (any(v > 0 for v in self.push_lin_vel) or any(v > 0 for v in self.push_ang_vel))


@struct.dataclass
class Params:
    """One env's randomisation (nominal: ones, zeros)."""

    friction: jax.Array  # ()
    mass_scale: jax.Array  # (nbody,) MuJoCo bodies, world included (always 1)
    torso_com_offset: jax.Array  # (3,)
    kp_scale: jax.Array  # (nu,)
    kd_scale: jax.Array  # (nu,)
    joint_offset: jax.Array  # (nu,)
    action_delay: jax.Array  # () int32


def nominal(nbody: int, nu: int) -> Params:
    return Params(
        friction=jnp.ones((), jnp.float32),
        mass_scale=jnp.ones((nbody,), jnp.float32),
        torso_com_offset=jnp.zeros((3,), jnp.float32),
        kp_scale=jnp.ones((nu,), jnp.float32),
        kd_scale=jnp.ones((nu,), jnp.float32),
        joint_offset=jnp.zeros((nu,), jnp.float32),
        action_delay=jnp.zeros((), jnp.int32),
    )


def num_uniforms(nbody: int, nu: int) -> int:
    """How many U[0, 1) numbers `from_uniform` consumes."""
    return 1 + nbody + 3 + 3 * nu + 1


def _scale(u, low, high):
    return low + (high - low) * u


def from_uniform(config: RandomizationConfig, u, nbody: int, nu: int) -> Params:
    """Parameters of one env from `num_uniforms(nbody, nu)` U[0, 1) numbers; nominal when disabled.

    Drawing all of an env's random numbers in one call keeps the compiled reset small.
    """
    if not config.enabled:
        return nominal(nbody, nu)
    parts = np.cumsum([1, nbody, 3, nu, nu, nu])
    friction, mass, com, kp, kd, offset, delay = jnp.split(u, parts)
    return Params(
        friction=_scale(friction[0], *config.friction_range),
        mass_scale=_scale(mass, *config.mass_scale_range).at[0].set(1.0),
        torso_com_offset=_scale(com, -1.0, 1.0) * jnp.asarray(config.torso_com_offset, jnp.float32),
        kp_scale=_scale(kp, *config.kp_scale_range),
        kd_scale=_scale(kd, *config.kd_scale_range),
        joint_offset=_scale(offset, -config.joint_offset, config.joint_offset),
        action_delay=jnp.minimum(jnp.floor(delay[0] * (config.max_action_delay + 1)), config.max_action_delay).astype(jnp.int32),
    )


def sample(config: RandomizationConfig, rng, nbody: int, nu: int) -> Params:
    """Parameters of one env; nominal when `config.enabled` is False."""
    return from_uniform(config, jax.random.uniform(rng, (num_uniforms(nbody, nu),)), nbody, nu)


def randomized_model(model, params: Params, floor_pairs: np.ndarray, torso_body: int):
    """`model` with one env's parameters applied (replace fields only; call inside the per-env function).

    floor_pairs: (npair,) bool, the contact pairs whose friction is scaled.
    """
    pair_scale = jnp.where(jnp.asarray(floor_pairs)[:, None] & (jnp.arange(5) < 2)[None, :], params.friction, 1.0)
    kp, kd = params.kp_scale, params.kd_scale
    gain = model.actuator_gainprm.at[:, 0].multiply(kp)
    bias = model.actuator_biasprm.at[:, 1].multiply(kp).at[:, 2].multiply(kd)
    return model.replace(
        pair_friction=model.pair_friction * pair_scale,
        body_mass=model.body_mass * params.mass_scale,
        body_inertia=model.body_inertia * params.mass_scale[:, None],
        body_ipos=model.body_ipos.at[torso_body].add(params.torso_com_offset),
        actuator_gainprm=gain,
        actuator_biasprm=bias,
    )


def privileged(params: Params, config: RandomizationConfig) -> dict:
    """The parameters as observation blocks (deviations from nominal; world body dropped)."""
    delay_scale = max(config.max_action_delay, 1)
    return {
        "rand/friction": jnp.reshape(params.friction - 1.0, (1,)),
        "rand/mass": params.mass_scale[1:] - 1.0,
        "rand/torso_com": params.torso_com_offset,
        "rand/kp": params.kp_scale - 1.0,
        "rand/kd": params.kd_scale - 1.0,
        "rand/joint_offset": params.joint_offset,
        "rand/action_delay": jnp.reshape(params.action_delay.astype(jnp.float32) / delay_scale, (1,)),
    }


def push_countdown(config: RandomizationConfig, u):
    """Seconds to the next push from one U[0, 1) number."""
    return _scale(jnp.asarray(u, jnp.float32), *config.push_interval)


PUSH_UNIFORMS = 7


def push(config: RandomizationConfig, u, qvel, countdown, dt: float):
    """Count down; when due, kick the root velocity and draw the next interval. Returns (qvel, countdown).

    u: `PUSH_UNIFORMS` U[0, 1) numbers.
    """
    if not config.pushes:
        return qvel, countdown
    countdown = countdown - dt
    due = countdown <= 0.0
    limits = jnp.asarray(tuple(config.push_lin_vel) + tuple(config.push_ang_vel), jnp.float32)
    kick = _scale(u[:6], -1.0, 1.0) * limits
    qvel = qvel.at[:6].add(jnp.where(due, kick, 0.0))
    countdown = jnp.where(due, push_countdown(config, u[6]), countdown)
    return qvel, countdown


def delayed_action(buffer, action, delay):
    """Push `action` into the buffer (newest first) and return (the action `delay` steps old, buffer)."""
    buffer = jnp.concatenate([action[None], buffer[:-1]], axis=0)
    return buffer[delay], buffer


__all__ = ["PUSH_UNIFORMS", "Params", "RandomizationConfig", "delayed_action", "from_uniform", "nominal", "num_uniforms", "privileged", "push",
           "push_countdown", "randomized_model", "sample"]
