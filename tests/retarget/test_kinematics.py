"""Pure-JAX forward kinematics of the G1 equals MuJoCo's mj_kinematics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mimicjax import robots
from mimicjax.robots.kinematics import KinematicTree, forward_kinematics

def _random_configurations(variant: str, count: int, seed: int = 0):
    spec = robots.get(f"g1_{variant}")
    rng = np.random.default_rng(seed)
    low, high = spec.joint_range.T
    joints = rng.uniform(low, high, size=(count, spec.num_joints))
    root_pos = rng.normal(size=(count, 3))
    root_quat = rng.normal(size=(count, 4))
    root_quat /= np.linalg.norm(root_quat, axis=1, keepdims=True)
    return root_pos, root_quat, joints


@pytest.mark.parametrize("variant", ["29dof", "23dof"])
def test_matches_mujoco_on_random_configurations(variant):
    model = robots.get(f"g1_{variant}").load_model()
    data = mujoco.MjData(model)
    root_pos, root_quat, joints = _random_configurations(variant, 32)
    pos, quat = robots.get(f"g1_{variant}").body_poses(root_pos, root_quat, joints)  # jitted FK, shared with the library tests
    for i in range(len(root_pos)):
        data.qpos[:] = np.concatenate([root_pos[i], root_quat[i], joints[i]])
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(pos[i], data.xpos, atol=1e-5)
        sign = np.sign(np.sum(quat[i] * data.xquat, axis=-1, keepdims=True))  # q and -q are one rotation
        np.testing.assert_allclose(quat[i] * sign, data.xquat, atol=1e-5)


def test_batch_shapes_vmap_and_gradients():
    tree = robots.get("g1_29dof").tree
    root_pos, root_quat, joints = (jnp.asarray(a, jnp.float32) for a in _random_configurations("29dof", 32, seed=1))
    flat = robots.get("g1_29dof").body_poses(root_pos, root_quat, joints)
    mapped = jax.jit(jax.vmap(forward_kinematics, in_axes=(None, 0, 0, 0)))(tree, root_pos, root_quat, joints)
    np.testing.assert_allclose(np.asarray(mapped[0]), flat[0], atol=1e-5)
    assert mapped[0].shape == (32, 31, 3) and mapped[1].shape == (32, 31, 4)

    hand = tree.body_id("left_wrist_yaw_link")
    grad = jax.jit(jax.grad(lambda q: forward_kinematics(tree, root_pos[0], root_quat[0], q)[0][hand, 2]))(joints[0])
    assert grad.shape == (29,) and np.all(np.isfinite(np.asarray(grad)))
    np.testing.assert_allclose(float(grad[0]), 0.0, atol=1e-6)  # the left hip pitch does not move the hand
    # Against a central difference of MuJoCo's own kinematics.
    model = robots.get("g1_29dof").load_model()
    data = mujoco.MjData(model)
    elbow = robots.get("g1_29dof").joint_names.index("left_elbow_joint")
    heights = []
    for delta in (1e-4, -1e-4):
        q = np.asarray(joints[0], np.float64).copy()
        q[elbow] += delta
        data.qpos[:] = np.concatenate([np.asarray(root_pos[0]), np.asarray(root_quat[0]), q])
        mujoco.mj_kinematics(model, data)
        heights.append(data.xpos[hand, 2])
    np.testing.assert_allclose(float(grad[elbow]), (heights[0] - heights[1]) / 2e-4, rtol=1e-3, atol=1e-4)


def test_numpy_helper_pads_frames_and_rejects_unsupported_trees():
    root_pos, root_quat, joints = _random_configurations("29dof", 5, seed=2)
    pos, quat = robots.get("g1_29dof").body_poses(root_pos, root_quat, joints)
    assert pos.shape == (5, 31, 3) and quat.shape == (5, 31, 4)
    model = robots.get("g1_29dof").load_model()
    data = mujoco.MjData(model)
    data.qpos[:] = np.concatenate([root_pos[4], root_quat[4], joints[4]])
    mujoco.mj_kinematics(model, data)
    np.testing.assert_allclose(pos[4], data.xpos, atol=1e-5)
    fixed_base = mujoco.MjModel.from_xml_string("<mujoco><worldbody><body><joint type='hinge'/><geom size='0.1'/></body></worldbody></mujoco>")
    with pytest.raises(ValueError, match="floating base"):
        KinematicTree.from_model(fixed_base)
