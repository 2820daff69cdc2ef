"""Random poses and MuJoCo body positions, shared by the robot model tests."""

from __future__ import annotations

import mujoco
import numpy as np


def random_qpos(model, rng):
    """A random free-floating pose with every hinge inside its range."""
    qpos = np.zeros(model.nq)
    qpos[:3] = rng.normal(size=3)
    quat = rng.normal(size=4)
    qpos[3:7] = quat / np.linalg.norm(quat)
    qpos[7:] = rng.uniform(model.jnt_range[1:, 0], model.jnt_range[1:, 1])
    return qpos


def body_positions(model, qpos):
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    return data.xpos.copy()
