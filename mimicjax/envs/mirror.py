"""Left-right mirror transforms of observations and actions (T_s and T_a of the symmetry loss).

The reflection is y -> -y through the pelvis' sagittal plane, with left and right body parts swapped
(`mimicjax.robots.base.Robot` holds the robot's mirror map). Every observation is a flat concatenation of named
blocks (`observations.Block`), each tagged with how it transforms; the transform of a whole observation
is then a signed permutation `x' = sign * x[perm]`, built once in NumPy from the blocks, so applying it
inside jit is one gather and one multiply, and it is an involution by construction (checked in tests).

Block kinds (each acts on the trailing axes of the block's shape; leading axes, e.g. future frames, are
carried along):

| kind                   | trailing shape | transform |
|------------------------|----------------|-----------|
| `invariant`            | any            | unchanged (heights, friction, delays) |
| `vector`               | (3,)           | (x, y, z) -> (x, -y, z): positions, linear velocities, gravity |
| `pseudovector`         | (3,)           | (x, y, z) -> (-x, y, -z): angular velocities |
| `rot6d`                | (6,)           | first two columns (c0, c1) of a rotation matrix A -> of M A M, M = diag(1, -1, 1) |
| `joint`                | (n,)           | joint angles, velocities, actions: `base.mirror_joint_pos` |
| `joint_scale`          | (n,)           | per-joint magnitudes (gain scales): left/right swapped, no sign |
| `body_scale`           | (nbody,)       | per-body magnitudes over `robot.body_names`: swapped, no sign |
| `keypoint_vector`      | (K, 3)         | keypoints swapped, each a `vector` |
| `keypoint_pseudovector`| (K, 3)         | keypoints swapped, each a `pseudovector` |
| `keypoint_rot6d`       | (K, 6)         | keypoints swapped, each a `rot6d` |
| `foot_pair`            | (2,)           | (left, right) -> (right, left) |
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from mimicjax.robots.base import Robot, mirror_joint_pos

_VECTOR = np.array([1.0, -1.0, 1.0])
_PSEUDO = np.array([-1.0, 1.0, -1.0])
_ROT6D = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])

KINDS = (
    "invariant",
    "vector",
    "pseudovector",
    "rot6d",
    "joint",
    "joint_scale",
    "body_scale",
    "keypoint_vector",
    "keypoint_pseudovector",
    "keypoint_rot6d",
    "foot_pair",
)


def mirror_block(robot: Robot, kind: str, x):
    """Mirror one block `x` (NumPy or JAX) of the given kind; see the module table."""
    if kind == "invariant":
        return x
    if kind == "vector":
        return x * _VECTOR
    if kind == "pseudovector":
        return x * _PSEUDO
    if kind == "rot6d":
        return x * _ROT6D
    if kind == "joint":
        return x[..., robot.mirror_perm] * robot.mirror_sign
    if kind == "joint_scale":
        return x[..., robot.mirror_perm]
    if kind == "body_scale":
        return x[..., robot.body_mirror_perm]
    if kind == "keypoint_vector":
        return x[..., robot.keypoint_mirror_perm, :] * _VECTOR
    if kind == "keypoint_pseudovector":
        return x[..., robot.keypoint_mirror_perm, :] * _PSEUDO
    if kind == "keypoint_rot6d":
        return x[..., robot.keypoint_mirror_perm, :] * _ROT6D
    if kind == "foot_pair":
        return x[..., ::-1]
    raise ValueError(f"unknown mirror kind {kind!r}; known kinds: {', '.join(KINDS)}")


class SignedPermutation:
    """x -> sign * x[..., perm]: a reflection of flat vectors, applied to any leading batch shape."""

    def __init__(self, perm: np.ndarray, sign: np.ndarray):
        self.perm = np.asarray(perm, np.int32)
        self.sign = np.asarray(sign, np.float32)

    @property
    def size(self) -> int:
        return int(self.perm.shape[0])

    def __call__(self, x):
        if x.shape[-1] != self.size:
            raise ValueError(f"mirror expects vectors of size {self.size}, got shape {tuple(x.shape)}")
        return jnp.take(x, self.perm, axis=-1) * self.sign.astype(x.dtype)

    def matrix(self) -> np.ndarray:
        """The (size, size) matrix P with mirror(x) = P @ x."""
        out = np.zeros((self.size, self.size), np.float32)
        out[np.arange(self.size), self.perm] = self.sign
        return out

    def is_involution(self) -> bool:
        return bool(np.array_equal(self.perm[self.perm], np.arange(self.size)) and np.all(self.sign * self.sign[self.perm] == 1.0))


def signed_permutation(robot: Robot, blocks: Sequence) -> SignedPermutation:
    """The reflection of a flat observation made of `blocks` (each with `.shape` and `.mirror`)."""
    perms, signs = [], []
    offset = 0
    for block in blocks:
        size = int(np.prod(block.shape))
        # Mirror the 1-based signed indices: every kind is a signed permutation, so each output entry
        # is +-(index + 1) of the input entry it came from.
        index = (np.arange(size, dtype=np.float64) + 1.0).reshape(block.shape)
        out = np.asarray(mirror_block(robot, block.mirror, index)).reshape(-1)
        if out.shape != (size,) or not np.array_equal(np.sort(np.abs(out)), np.arange(1, size + 1)):
            raise ValueError(f"observation block {block.name!r} of shape {block.shape} does not fit mirror kind {block.mirror!r}")
        perms.append(np.abs(out).astype(np.int64) - 1 + offset)
        signs.append(np.sign(out))
        offset += size
    if not perms:
        return SignedPermutation(np.zeros(0, np.int32), np.zeros(0, np.float32))
    return SignedPermutation(np.concatenate(perms), np.concatenate(signs))


def action_mirror(robot: Robot) -> Callable:
    """T_a: actions are joint-position offsets around a mirror-symmetric default pose, so they mirror as joints."""
    default = np.asarray(robot.default_pose)
    if not np.allclose(mirror_joint_pos(robot, default), default, atol=1e-6) or not np.allclose(
        robot.action_scale[robot.mirror_perm], robot.action_scale
    ):
        raise ValueError(f"the {robot.title} default pose or action scale is not mirror-symmetric; actions cannot be mirrored")
    return signed_permutation(robot, [_ActionBlock(robot.num_joints)])


class _ActionBlock:
    name = "action"
    mirror = "joint"

    def __init__(self, n: int):
        self.shape = (n,)


__all__ = ["KINDS", "SignedPermutation", "action_mirror", "mirror_block", "signed_permutation"]
