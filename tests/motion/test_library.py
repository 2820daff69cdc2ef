"""MotionLibrary: packing, interpolated sampling inside jit/vmap, mirroring, one-file save/load."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.motion.robot_files import RobotMotion
from mimicjax.motion.library import (
    MotionLibrary,
    build_library,
    clip_motion,
    library_summary,
    load_library,
    sample,
    save_library,
)
from mimicjax.motion.validate import MotionFormatError
from mimicjax import robots
from mimicjax.robots import base as robot_base

YAW_RATE = 0.8  # rad/s
SPEC = robots.get("g1_29dof")
RATE = np.linspace(-0.2, 0.2, SPEC.num_joints)  # rad/s, per joint


def _analytic_clip(num_frames: int, fps: float, offset: float = 0.0) -> RobotMotion:
    """Joints and root position linear in time, root yaw turning at a constant rate."""
    t = np.arange(num_frames) / fps
    yaw = offset + YAW_RATE * t
    return RobotMotion(
        fps=fps,
        root_pos=np.stack([0.5 * t, 0.1 + 0.0 * t, 0.75 + 0.02 * t], axis=1),
        root_quat=np.stack([np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)], axis=1),
        joint_pos=SPEC.default_pose + RATE * t[:, None],
        joint_names=SPEC.joint_names,
        source="",
    )


@pytest.fixture(scope="module")
def lib() -> MotionLibrary:
    clips = [_analytic_clip(31, 30.0), _analytic_clip(26, 50.0, offset=1.0)]
    return build_library(clips, robots.get("g1_29dof"), names=["a", "b"], weights=[1.0, 3.0], mirror=True)


_sample = jax.jit(sample)


def test_layout(lib):
    assert lib.num_clips == 4 and lib.num_frames == 2 * (31 + 26)
    np.testing.assert_array_equal(np.asarray(lib.clip_start), [0, 31, 57, 88])
    np.testing.assert_array_equal(np.asarray(lib.clip_mirror_of), [-1, -1, 0, 1])
    assert lib.meta.clip_names == ("a", "b", "a:mirrored", "b:mirrored")
    assert lib.keypoint_pos.shape == (lib.num_frames, len(SPEC.keypoint_bodies), 3)
    leaves = jax.tree_util.tree_leaves(lib)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)  # shardable: every leaf is an array


def test_sampling_is_exact_for_linear_joints_and_constant_yaw_rate(lib):
    times = jnp.array([0.0, 0.0123, 0.31, 0.5 - 1e-3, 0.2777])
    for clip, fps in ((0, 30.0), (1, 50.0)):
        frame = _sample(lib, jnp.full(times.shape, clip), times)
        t = np.asarray(times, np.float64)
        offset = 0.0 if clip == 0 else 1.0
        np.testing.assert_allclose(np.asarray(frame.joint_pos), SPEC.default_pose + RATE * t[:, None], atol=2e-6)
        np.testing.assert_allclose(np.asarray(frame.root_pos[:, 0]), 0.5 * t, atol=2e-6)
        yaw = offset + YAW_RATE * t
        expected = np.stack([np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)], axis=1)
        np.testing.assert_allclose(np.asarray(frame.root_quat), expected, atol=2e-6)
        np.testing.assert_allclose(np.asarray(frame.joint_vel), np.broadcast_to(RATE, frame.joint_vel.shape), atol=1e-4)
        np.testing.assert_allclose(np.asarray(frame.root_ang_vel), np.broadcast_to([0, 0, YAW_RATE], (5, 3)), atol=1e-4)


def test_times_are_clamped_and_keypoints_match_forward_kinematics(lib):
    frame = _sample(lib, jnp.array([0, 0, 0, 0, 0]), jnp.array([-1.0, 0.0, 1 / 30, 1.0, 50.0]))
    motion = clip_motion(lib, 0)
    pos, _ = robots.get("g1_29dof").body_poses(motion.root_pos, motion.root_quat, motion.joint_pos)
    keypoints = pos[:, SPEC.keypoint_body_ids]
    for got, index in zip(np.asarray(frame.keypoint_pos), [0, 0, 1, 30, 30]):
        np.testing.assert_allclose(got, keypoints[index], atol=1e-5)


def test_mirrored_clip_keypoints_are_reflected_and_swapped(lib):
    original = np.asarray(lib.keypoint_pos[0:31])
    mirrored = np.asarray(lib.keypoint_pos[57:88])
    # 2e-5: the G1 itself is mirror-symmetric only to 1e-5 m (shoulder offsets 0.10022 vs 0.10021).
    np.testing.assert_allclose(mirrored, robot_base.mirror_keypoints(SPEC, original), atol=2e-5)
    np.testing.assert_allclose(np.asarray(lib.joint_pos[57:88]), robot_base.mirror_joint_pos(SPEC, np.asarray(lib.joint_pos[0:31])), atol=1e-6)


def test_sample_inside_jit_and_vmap(lib):
    keys = jnp.array([0, 1, 2, 3, 1, 0])
    times = jnp.array([0.1, 0.2, 0.3, 0.4, 0.45, 0.99])

    @jax.jit
    def per_env(library, clip, time):
        return jax.vmap(lambda c, t: sample(library, c, t))(clip, time)

    mapped = per_env(lib, keys, times)
    direct = _sample(lib, keys, times)
    for a, b in zip(jax.tree_util.tree_leaves(mapped), jax.tree_util.tree_leaves(direct)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    assert mapped.keypoint_pos.shape == (6, len(SPEC.keypoint_bodies), 3)
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    replicated = jax.device_put(lib, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    assert isinstance(replicated, MotionLibrary) and replicated.meta == lib.meta


def test_save_load_round_trip(lib, tmp_path):
    path = tmp_path / "lib.npz"
    save_library(lib, path)
    assert [p.name for p in tmp_path.iterdir()] == ["lib.npz"]  # no temporary file left behind
    loaded = load_library(path)
    assert loaded.meta == lib.meta
    for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(lib)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == b.dtype
    summary = library_summary(loaded)
    assert summary["robot"] == "g1_29dof" and summary["clips"] == 4 and summary["clip_table"][3]["mirror_of"] == 1


def test_bad_files_name_the_file(tmp_path):
    other = tmp_path / "not_a_library.npz"
    np.savez(other, root_pos=np.zeros((3, 3)))
    with pytest.raises(MotionFormatError, match="not_a_library.npz"):
        load_library(other)
    with pytest.raises(MotionFormatError, match="not found"):
        load_library(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="joints"):
        build_library([_analytic_clip(5, 30.0).replace(joint_names=SPEC.joint_names[:23], joint_pos=np.zeros((5, 23)))], robots.get("g1_29dof"))
