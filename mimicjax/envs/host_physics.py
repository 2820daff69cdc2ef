"""MuJoCo's C engine stepping a batch of envs from inside a jitted program (`sim.impl="c"`, CPU only).

On a CPU, MJX runs at about a tenth of the C engine's speed, and the C engine can use every core while a
jitted JAX program gets one (the deadlock guard's one-thread pool). This backend keeps everything else
in JAX (observations, rewards, the policy and its update) and only hands the physics to the host:
`step` is a `jax.pure_callback` that, under `vmap`, receives the whole batch of envs at once and steps
it on a thread pool, each thread with its own `MjData`.

The state carried between control steps is `HostData`: what MuJoCo needs to continue (positions,
velocities, controls, solver warm start, time) and what the tracking env reads after a step (actuator
forces, active self-collisions). It has no body poses: the env computes those with its own kinematics.
MJX stays the accelerator path; on one model both give the same transitions within physics tolerance
(`tests/envs/test_host_physics.py`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class HostData:
    """One env's (or, with leading axes, a batch's) physics state for the C engine."""

    qpos: jax.Array
    qvel: jax.Array
    ctrl: jax.Array
    qacc_warmstart: jax.Array
    time: jax.Array
    actuator_force: jax.Array  # from the forward pass of the last physics step, as MJX reports it
    self_contacts: jax.Array  # () active (penetrating) contacts between two robot geoms, last step


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class HostEngine:
    """A MuJoCo model, one `MjData` per worker thread and the pool; steps batches of `HostData` arrays.

    Held as a static (non-pytree) part of `Sim`; compared by identity, so one engine is one compiled
    program.
    """

    def __init__(self, mj_model, threads: int):
        import mujoco

        if threads < 1:
            raise ValueError(f"sim.threads must be >= 1, got {threads}")
        if mj_model.na or mj_model.nmocap:
            raise ValueError("sim.impl='c' supports models without actuator activations or mocap bodies")
        self.model = mj_model
        self.threads = threads
        self._mujoco = mujoco
        self._datas = [mujoco.MjData(mj_model) for _ in range(threads)]
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="mujoco") if threads > 1 else None
        self._lock = threading.Lock()
        # Contacts between two geoms that both belong to the robot (not to the world body: the floor).
        self._robot_geom = np.asarray(mj_model.geom_bodyid) != 0

    def empty(self, batch_shape: tuple[int, ...] = ()) -> HostData:
        m = self.model
        zeros = lambda *n: jnp.zeros(batch_shape + n, jnp.float32)  # noqa: E731
        return HostData(
            qpos=zeros(m.nq), qvel=zeros(m.nv), ctrl=zeros(m.nu), qacc_warmstart=zeros(m.nv),
            time=zeros(), actuator_force=zeros(m.nu), self_contacts=zeros(),
        )

    def step(self, data: HostData, substeps: int) -> HostData:
        """`substeps` physics steps of every env in `data` (any leading axes; vmapped calls batch)."""
        shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, jnp.float32), data)
        out = jax.pure_callback(
            lambda *arrays: self._step_host(arrays, substeps),
            (shapes.qpos, shapes.qvel, shapes.qacc_warmstart, shapes.time, shapes.actuator_force, shapes.self_contacts),
            data.qpos, data.qvel, data.ctrl, data.qacc_warmstart, data.time,
            vmap_method="broadcast_all",
        )
        qpos, qvel, warmstart, time, force, contacts = out
        return data.replace(qpos=qpos, qvel=qvel, qacc_warmstart=warmstart, time=time, actuator_force=force, self_contacts=contacts)

    def _step_host(self, arrays, substeps: int):
        qpos, qvel, ctrl, warmstart, time = (np.asarray(a, np.float64) for a in arrays)
        batch_shape = time.shape
        m = self.model
        flat = [a.reshape(-1, a.shape[-1]) if a.ndim > len(batch_shape) else a.reshape(-1) for a in (qpos, qvel, ctrl, warmstart, time)]
        n = flat[-1].shape[0]
        out = {
            "qpos": np.empty((n, m.nq)), "qvel": np.empty((n, m.nv)), "warmstart": np.empty((n, m.nv)),
            "time": np.empty(n), "force": np.empty((n, m.nu)), "contacts": np.empty(n),
        }
        bounds = np.linspace(0, n, min(self.threads, max(n, 1)) + 1).astype(int)
        with self._lock:
            work = [(self._datas[k], bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
            if self._pool is None or len(work) == 1:
                for args in work:
                    self._step_range(*args, flat, out, substeps)
            else:
                futures = [self._pool.submit(self._step_range, *args, flat, out, substeps) for args in work]
                for future in futures:
                    future.result()
        f32 = lambda a, *tail: a.reshape(batch_shape + tail).astype(np.float32)  # noqa: E731
        return (
            f32(out["qpos"], m.nq), f32(out["qvel"], m.nv), f32(out["warmstart"], m.nv),
            f32(out["time"]), f32(out["force"], m.nu), f32(out["contacts"]),
        )

    def _step_range(self, d, start, stop, flat, out, substeps):
        mujoco, m = self._mujoco, self.model
        qpos, qvel, ctrl, warmstart, time = flat
        for i in range(start, stop):
            d.qpos[:], d.qvel[:], d.ctrl[:] = qpos[i], qvel[i], ctrl[i]
            d.qacc_warmstart[:], d.time = warmstart[i], time[i]
            for _ in range(substeps):
                mujoco.mj_step(m, d)
            out["qpos"][i], out["qvel"][i], out["warmstart"][i] = d.qpos, d.qvel, d.qacc_warmstart
            out["time"][i], out["force"][i] = d.time, d.actuator_force
            contact = d.contact
            both_robot = self._robot_geom[contact.geom[:, 0]] & self._robot_geom[contact.geom[:, 1]] if d.ncon else np.zeros(0, bool)
            out["contacts"][i] = np.count_nonzero(both_robot & (contact.dist < 0.0)) if d.ncon else 0.0
