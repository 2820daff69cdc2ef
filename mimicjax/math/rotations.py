"""Rotation conversions in JAX: axis-angle, matrices and quaternions.

Conventions used everywhere in the project:
  * quaternions are **wxyz** (scalar first) unless a name says otherwise (`*_xyzw`);
  * axis-angle ("rotation vector") is the rotation axis scaled by the angle in radians;
  * matrices act on column vectors (`R @ v`), so `R_parent @ R_child` composes child-then-parent.

Every function accepts arbitrary leading batch dimensions, is jit/vmap/grad friendly and keeps the
input dtype. Gradients are finite at the identity rotation (the small-angle branches use Taylor series
under `jnp.where` with a safe denominator, so no NaN leaks through the unused branch).
"""

from __future__ import annotations

import jax.numpy as jnp

# Below this angle (radians) the closed forms lose precision; Taylor series take over.
_SMALL_ANGLE = 1e-4


def _safe_norm(x, axis=-1, keepdims=False):
    """Euclidean norm whose gradient at zero is zero instead of NaN."""
    sq = jnp.sum(x * x, axis=axis, keepdims=keepdims)
    is_zero = sq <= 0.0
    safe_sq = jnp.where(is_zero, 1.0, sq)
    return jnp.where(is_zero, 0.0, jnp.sqrt(safe_sq))


def skew(v):
    """Cross-product matrix [v]x with [v]x @ u = v x u; v (..., 3) -> (..., 3, 3)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = jnp.zeros_like(x)
    return jnp.stack(
        [
            jnp.stack([zero, -z, y], axis=-1),
            jnp.stack([z, zero, -x], axis=-1),
            jnp.stack([-y, x, zero], axis=-1),
        ],
        axis=-2,
    )


def axis_angle_to_matrix(rotvec):
    """Rodrigues' formula: (..., 3) rotation vectors -> (..., 3, 3) rotation matrices."""
    theta_sq = jnp.sum(rotvec * rotvec, axis=-1)
    small = theta_sq < _SMALL_ANGLE**2
    safe_theta_sq = jnp.where(small, 1.0, theta_sq)
    theta = jnp.sqrt(safe_theta_sq)
    # R = I + a [v]x + b [v]x^2 with a = sin(t)/t and b = (1 - cos t)/t^2 on the unnormalised vector.
    a = jnp.where(small, 1.0 - theta_sq / 6.0, jnp.sin(theta) / theta)
    b = jnp.where(small, 0.5 - theta_sq / 24.0, (1.0 - jnp.cos(theta)) / safe_theta_sq)
    k = skew(rotvec)
    eye = jnp.eye(3, dtype=rotvec.dtype)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_to_quat(rotvec):
    """(..., 3) rotation vectors -> (..., 4) unit quaternions (wxyz) with w >= 0."""
    theta_sq = jnp.sum(rotvec * rotvec, axis=-1, keepdims=True)
    small = theta_sq < _SMALL_ANGLE**2
    theta = jnp.sqrt(jnp.where(small, 1.0, theta_sq))
    half_sinc = jnp.where(small, 0.5 - theta_sq / 48.0, jnp.sin(0.5 * theta) / theta)
    w = jnp.where(small, 1.0 - theta_sq / 8.0, jnp.cos(0.5 * theta))
    return jnp.concatenate([w, rotvec * half_sinc], axis=-1)


def quat_to_axis_angle(quat):
    """(..., 4) quaternions (wxyz, any norm) -> (..., 3) rotation vectors with angle in [0, pi]."""
    quat = quat / _safe_norm(quat, keepdims=True)
    # q and -q are the same rotation; pick w >= 0 so the angle stays in [0, pi].
    quat = jnp.where(quat[..., :1] < 0.0, -quat, quat)
    w, xyz = quat[..., :1], quat[..., 1:]
    sin_half = _safe_norm(xyz, keepdims=True)
    small = sin_half < _SMALL_ANGLE
    angle = 2.0 * jnp.arctan2(sin_half, w)
    scale = jnp.where(small, 2.0 / jnp.maximum(w, 1e-12), angle / jnp.where(small, 1.0, sin_half))
    return xyz * scale


def quat_to_matrix(quat):
    """(..., 4) quaternions (wxyz, normalised here) -> (..., 3, 3) rotation matrices."""
    quat = quat / _safe_norm(quat, keepdims=True)
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    return jnp.stack(
        [
            jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def matrix_to_quat(matrix):
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (wxyz, w >= 0).

    Uses the largest of the four candidate denominators (Shepperd's method) so it is accurate for every
    rotation, including 180 degree turns.
    """
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    candidates = jnp.stack(
        [
            jnp.stack([1.0 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            jnp.stack([m[..., 2, 1] - m[..., 1, 2], 1.0 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            jnp.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1.0 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            jnp.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1.0 - m00 - m11 + m22], -1),
        ],
        axis=-2,
    )  # (..., 4 candidates, 4)
    diag = jnp.stack([1.0 + trace, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22], -1)
    best = jnp.argmax(diag, axis=-1)
    quat = jnp.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    quat = quat / _safe_norm(quat, keepdims=True)
    return jnp.where(quat[..., :1] < 0.0, -quat, quat)


def matrix_to_axis_angle(matrix):
    """(..., 3, 3) rotation matrices -> (..., 3) rotation vectors."""
    return quat_to_axis_angle(matrix_to_quat(matrix))


def quat_multiply(a, b):
    """Hamilton product a * b of wxyz quaternions (apply b first, then a)."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return jnp.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conjugate(quat):
    """Inverse of a unit wxyz quaternion."""
    return quat * jnp.array([1.0, -1.0, -1.0, -1.0], dtype=quat.dtype)


def quat_rotate(quat, v):
    """Rotate vectors v (..., 3) by unit wxyz quaternions (..., 4)."""
    w, xyz = quat[..., :1], quat[..., 1:]
    t = 2.0 * jnp.cross(xyz, v)
    return v + w * t + jnp.cross(xyz, t)


def quat_slerp(a, b, t):
    """Spherical interpolation between wxyz quaternions a and b at fraction t (broadcast), shortest path."""
    t = jnp.asarray(t, dtype=a.dtype)
    if t.ndim == a.ndim - 1:
        t = t[..., None]
    dot = jnp.sum(a * b, axis=-1, keepdims=True)
    b = jnp.where(dot < 0.0, -b, b)
    dot = jnp.abs(dot)
    # Nearly parallel quaternions: normalised lerp is exact to rounding and avoids 0/0.
    close = dot > 0.9995
    omega = jnp.arccos(jnp.clip(dot, -1.0, 1.0))
    sin_omega = jnp.where(close, 1.0, jnp.sin(omega))
    wa = jnp.where(close, 1.0 - t, jnp.sin((1.0 - t) * omega) / sin_omega)
    wb = jnp.where(close, t, jnp.sin(t * omega) / sin_omega)
    out = wa * a + wb * b
    return out / _safe_norm(out, keepdims=True)


def wxyz_to_xyzw(quat):
    return jnp.concatenate([quat[..., 1:], quat[..., :1]], axis=-1)


def xyzw_to_wxyz(quat):
    return jnp.concatenate([quat[..., 3:], quat[..., :3]], axis=-1)


def heading_quat(quat):
    """The yaw-only part of wxyz orientations (rotation about world z)."""
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    yaw = jnp.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    zero = jnp.zeros_like(yaw)
    return jnp.stack([jnp.cos(0.5 * yaw), zero, zero, jnp.sin(0.5 * yaw)], axis=-1)
