"""The MJX simulation core: a batch of robots under PD control.

`make_sim(robot, config)` compiles the robot model once and returns a `Sim` pytree; everything else is a pure
function of it, meant to be jitted and vmapped over environments:

    sim, mj_model = make_sim(robots.get("g1_29dof"), SimConfig())
    data = reset(sim, jax.random.key(0), batch=4096)          # batched mjx.Data at the stand pose
    data = batched_step(sim, data, targets)                   # one 50 Hz control step = 4 physics steps

PD control runs inside MuJoCo (position actuators), so the gains act at the physics rate while targets
change at the control rate. Per-env model variations (domain randomisation) replace fields of
`sim.model` and vmap over them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import math
from typing import Literal

import jax
import jax.numpy as jnp
from flax import struct

from mimicjax.envs.host_physics import HostEngine, default_threads
from mimicjax.robots import Robot

Impl = Literal["auto", "jax", "warp", "c"]


def import_mjx():
    """Import `mujoco.mjx` without its console message about the optional Warp runtime."""
    with contextlib.redirect_stdout(io.StringIO()):
        from mujoco import mjx
    return mjx


@dataclasses.dataclass(frozen=True)
class SimConfig:
    control_hz: float = 50.0
    physics_hz: float = 200.0
    # "jax": MJX's JAX implementation (CPU, TPU, GPU). "warp": MuJoCo Warp (NVIDIA GPUs, needs the
    # `cuda` extra). "c": MuJoCo's C engine on the host, called from the jitted program (CPU only; its
    # physics ran 2.6x MJX's on the project's CPU, see `host_physics`). "auto": Warp on an NVIDIA GPU when installed,
    # otherwise JAX.
    impl: Impl = "auto"
    # Worker threads of the "c" engine; None: every core this process may use.
    threads: int | None = None
    # Solver overrides; None keeps the model file's settings (Newton). "cg" needs no Cholesky of the
    # constraint Hessian, which matters for how many threads XLA's CPU pool may safely use.
    solver: Literal["newton", "cg"] | None = None
    solver_iterations: int | None = None
    line_search_iterations: int | None = None
    # Warp allocates contact and constraint buffers up front (per world).
    warp_contacts_per_env: int = 32
    warp_constraints_per_env: int = 160


@struct.dataclass
class Sim:
    """A compiled robot model on the device and the constants the step needs."""

    model: object  # mjx.Model
    default_qpos: jax.Array  # (nq,) the `stand` keyframe
    default_ctrl: jax.Array  # (nu,) PD targets of the stand pose
    ctrl_low: jax.Array
    ctrl_high: jax.Array
    substeps: int = struct.field(pytree_node=False)
    control_dt: float = struct.field(pytree_node=False)
    impl: str = struct.field(pytree_node=False)
    host: HostEngine | None = struct.field(pytree_node=False, default=None)  # impl "c" only
    warp_contacts_per_env: int = struct.field(pytree_node=False, default=32)
    warp_constraints_per_env: int = struct.field(pytree_node=False, default=160)


def resolve_impl(impl: Impl) -> str:
    if impl not in ("auto", "jax", "warp", "c"):
        raise ValueError(f"sim.impl must be 'auto', 'jax', 'warp' or 'c', got {impl!r}")
    if impl != "auto":
        return impl
    if jax.default_backend() == "gpu" and _warp_available():
        return "warp"
    return "jax"


def _warp_available() -> bool:
    try:
        import warp  # noqa: F401
    except ImportError:
        return False
    return True


def substeps_per_control(config: SimConfig) -> int:
    ratio = config.physics_hz / config.control_hz
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
        raise ValueError(
            f"sim.physics_hz ({config.physics_hz}) must be a whole multiple of sim.control_hz "
            f"({config.control_hz})"
        )
    return int(round(ratio))


def _solver_table():
    import mujoco

    return {"newton": mujoco.mjtSolver.mjSOL_NEWTON, "cg": mujoco.mjtSolver.mjSOL_CG}


_SOLVERS = _solver_table()


def load_mj_model(robot: Robot, config: SimConfig):
    """The host-side MuJoCo model with the config's timestep and solver settings applied."""
    model = robot.load_model()
    substeps_per_control(config)  # validate before anything is compiled
    model.opt.timestep = 1.0 / config.physics_hz
    if config.solver is not None:
        if config.solver not in _SOLVERS:
            raise ValueError(f"sim.solver must be one of {sorted(_SOLVERS)} or None, got {config.solver!r}")
        model.opt.solver = _SOLVERS[config.solver]
    if config.solver_iterations is not None:
        model.opt.iterations = config.solver_iterations
    if config.line_search_iterations is not None:
        model.opt.ls_iterations = config.line_search_iterations
    return model


def make_sim(robot: Robot, config: SimConfig = SimConfig()):
    """Compile the robot for MJX. Returns `(sim, mj_model)`; the MjModel is for rendering and baselines."""
    mjx = import_mjx()
    mj_model = load_mj_model(robot, config)
    impl = resolve_impl(config.impl)
    if impl == "warp" and not _warp_available():
        raise ValueError("sim.impl='warp' needs the Warp runtime: pip install 'mimicjax[cuda]'")
    if impl == "c" and jax.default_backend() != "cpu":
        raise ValueError(f"sim.impl='c' steps MuJoCo's C engine on the host CPU; on {jax.default_backend()} use 'auto'")
    if config.threads is not None and impl != "c":
        raise ValueError(f"sim.threads sets the C engine's worker threads; it needs sim.impl='c', not {impl!r}")
    threads = default_threads() if config.threads is None else config.threads
    host = HostEngine(mj_model, threads) if impl == "c" else None
    model = mjx.put_model(mj_model, impl="jax" if impl == "c" else impl)
    stand = mj_model.key("stand")
    actuated = mj_model.actuator_trnid[:, 0]
    sim = Sim(
        model=model,
        default_qpos=jnp.asarray(stand.qpos, jnp.float32),
        default_ctrl=jnp.asarray(stand.ctrl, jnp.float32),
        ctrl_low=jnp.asarray(mj_model.jnt_range[actuated, 0], jnp.float32),
        ctrl_high=jnp.asarray(mj_model.jnt_range[actuated, 1], jnp.float32),
        substeps=substeps_per_control(config),
        control_dt=1.0 / config.control_hz,
        impl=impl,
        host=host,
        warp_contacts_per_env=config.warp_contacts_per_env,
        warp_constraints_per_env=config.warp_constraints_per_env,
    )
    return sim, mj_model


def initial_data(sim: Sim, batch: int):
    """Zeroed MJX data (`HostData` for the C engine) for `batch` environments (leading axis)."""
    mjx = import_mjx()
    if sim.host is not None:
        return sim.host.empty((batch,))
    if sim.impl == "warp":
        one = mjx.make_data(
            sim.model,
            impl="warp",
            naconmax=batch * sim.warp_contacts_per_env,
            njmax=sim.warp_constraints_per_env,
        )
    else:
        one = mjx.make_data(sim.model)
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch,) + x.shape), one)


def set_state(sim: Sim, data, qpos: jax.Array, qvel: jax.Array | None = None, ctrl: jax.Array | None = None):
    """Put one env in the given state and recompute body poses.

    Only kinematics is recomputed (cheap to compile); dynamics quantities such as contacts are filled
    in by the next `step`, which runs the full forward pass. The C engine's `HostData` holds no body
    poses, so there is nothing to recompute.
    """
    mjx = import_mjx()
    data = data.replace(
        qpos=qpos,
        qvel=jnp.zeros_like(data.qvel) if qvel is None else qvel,
        ctrl=sim.default_ctrl if ctrl is None else ctrl,
        qacc_warmstart=jnp.zeros_like(data.qacc_warmstart),
        time=jnp.zeros_like(data.time),
    )
    return data if sim.host is not None else mjx.kinematics(sim.model, data)


@functools.partial(jax.jit, static_argnums=2)
def reset(sim: Sim, rng: jax.Array, batch: int, joint_noise: float = 0.0):
    """`batch` envs at the stand pose; joint angles perturbed uniformly by up to `joint_noise` rad."""
    data = initial_data(sim, batch)
    noise = jax.random.uniform(rng, (batch, sim.default_ctrl.shape[0]), minval=-1.0, maxval=1.0)
    qpos = jnp.tile(sim.default_qpos, (batch, 1))
    qpos = qpos.at[:, 7:].add(joint_noise * noise)
    return jax.vmap(set_state, in_axes=(None, 0, 0))(sim, data, qpos)


def step(sim: Sim, data, targets: jax.Array):
    """One control step of one env: hold PD `targets` (joint angles) for `sim.substeps` physics steps."""
    mjx = import_mjx()
    data = data.replace(ctrl=jnp.clip(targets, sim.ctrl_low, sim.ctrl_high))
    if sim.host is not None:
        return sim.host.step(data, sim.substeps)

    def physics_step(d, _):
        return mjx.step(sim.model, d), None

    data, _ = jax.lax.scan(physics_step, data, None, length=sim.substeps)
    return data


batched_step = jax.vmap(step, in_axes=(None, 0, 0))


def hold(sim: Sim, data, targets: jax.Array, control_steps: int):
    """Step a batch for `control_steps` with fixed targets; returns the final data (one jit-able call)."""

    def body(d, _):
        return batched_step(sim, d, targets), None

    data, _ = jax.lax.scan(body, data, None, length=control_steps)
    return data


# One compiled rollout per (batch, control_steps), shared by every caller in the process.
hold_jit = jax.jit(hold, static_argnums=3)


def scale_pd_gains(sim: Sim, frequency_scale) -> Sim:
    """The same robot with PD natural frequency scaled by `frequency_scale` (kp * s^2, kd * s).

    Damping ratio is kept. A scalar, or an array over actuators; vmap over it for per-env gains.
    """
    if sim.host is not None:
        raise ValueError("scale_pd_gains changes the MJX model; the C engine (sim.impl='c') steps a fixed model")
    model = sim.model
    s = jnp.asarray(frequency_scale, jnp.float32) * jnp.ones(model.nu, jnp.float32)
    gain = model.actuator_gainprm.at[:, 0].multiply(s * s)
    bias = model.actuator_biasprm.at[:, 1].multiply(s * s).at[:, 2].multiply(s)
    return sim.replace(model=model.replace(actuator_gainprm=gain, actuator_biasprm=bias))


def physics_dt(sim: Sim) -> float:
    return sim.control_dt / sim.substeps


def control_steps_for(sim: Sim, seconds: float) -> int:
    return int(math.ceil(seconds / sim.control_dt - 1e-9))


def self_contacts(sim: Sim, data) -> jax.Array:
    """How many active (penetrating) contacts between two robot geoms the last physics step of one env had.

    The robot's geoms are those not on the world body (the floor is).
    """
    if sim.host is not None:
        return data.self_contacts
    contact = getattr(getattr(data, "_impl", None), "contact", None)
    if contact is None or not hasattr(contact, "geom"):
        return jnp.zeros((), jnp.float32)
    robot_geom = jnp.asarray(sim.model.geom_bodyid) != 0
    both_robot = robot_geom[contact.geom[..., 0]] & robot_geom[contact.geom[..., 1]]
    return jnp.sum(both_robot & (contact.dist < 0.0)).astype(jnp.float32)


def has_nan(data) -> jax.Array:
    return jnp.any(~jnp.isfinite(data.qpos)) | jnp.any(~jnp.isfinite(data.qvel))
