"""Every registered robot mirrors like its reflection: poses, velocities and dynamics (y -> -y, sides swapped)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from mimicjax import robots
from mimicjax.robots import base
from tests.robots.model_helpers import body_positions, random_qpos

ROBOTS = robots.names()


@pytest.mark.parametrize("name", ROBOTS)
def test_mirrored_pose_is_the_reflected_robot(name):
    """FK(mirror(q)) equals FK(q) reflected in y (left and right bodies swapped) within 0.1 mm."""
    robot = robots.get(name)
    model = robot.load_model()
    rng = np.random.default_rng(1)
    for _ in range(50):
        qpos = random_qpos(model, rng)
        mirrored = base.mirror_qpos(robot, qpos)
        assert np.all(mirrored[7:] >= model.jnt_range[1:, 0] - 1e-9)
        assert np.all(mirrored[7:] <= model.jnt_range[1:, 1] + 1e-9)
        expected = base.mirror_body_pos(robot, body_positions(model, qpos)[1:])
        np.testing.assert_allclose(body_positions(model, mirrored)[1:], expected, atol=1e-4)


@pytest.mark.parametrize("name", ROBOTS)
def test_mirroring_twice_is_identity(name):
    robot = robots.get(name)
    model = robot.load_model()
    rng = np.random.default_rng(2)
    qpos, qvel = random_qpos(model, rng), rng.normal(size=model.nv)
    np.testing.assert_array_equal(base.mirror_qpos(robot, base.mirror_qpos(robot, qpos)), qpos)
    np.testing.assert_array_equal(base.mirror_qvel(robot, base.mirror_qvel(robot, qvel)), qvel)
    keypoints = rng.normal(size=(5, len(robot.keypoint_bodies), 3))
    np.testing.assert_array_equal(base.mirror_keypoints(robot, base.mirror_keypoints(robot, keypoints)), keypoints)
    assert np.all(robot.mirror_perm[robot.mirror_perm] == np.arange(robot.num_joints))
    # The stand pose is symmetric.
    stand = model.key("stand").qpos
    np.testing.assert_allclose(base.mirror_qpos(robot, stand), stand, atol=1e-12)


@pytest.mark.parametrize("name", ["g1_29dof", "h1"])
def test_velocities_mirror_like_the_simulator(name):
    """Mirroring qvel and stepping equals stepping and mirroring (the dynamics are symmetric)."""
    robot = robots.get(name)
    model = robot.load_model()
    model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT  # a floating robot: no floor
    rng = np.random.default_rng(3)
    data, mirrored = mujoco.MjData(model), mujoco.MjData(model)
    data.qpos[:] = model.key("stand").qpos
    data.qpos[7:] += rng.uniform(-0.2, 0.2, model.nu)
    data.qvel[:] = rng.normal(scale=0.5, size=model.nv)
    mirrored.qpos[:], mirrored.qvel[:] = base.mirror_qpos(robot, data.qpos), base.mirror_qvel(robot, data.qvel)
    data.ctrl[:] = model.key("stand").ctrl
    mirrored.ctrl[:] = base.mirror_joint_pos(robot, data.ctrl)
    for _ in range(10):
        mujoco.mj_step(model, data)
        mujoco.mj_step(model, mirrored)
    # Small inertial asymmetries of the real robots remain (the H1's torso centre of mass sits 3 mm off the
    # midline, the G1's under 1 mm).
    np.testing.assert_allclose(mirrored.qpos, base.mirror_qpos(robot, data.qpos), atol=2e-3)
