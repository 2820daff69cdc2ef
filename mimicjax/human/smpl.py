"""SMPL-family body models (SMPL, SMPL+H, SMPL-X) in JAX, plus a skeleton-only SMPL for users without one.

Two ways to build a `BodyModel`:

* `BodyModel.from_file(path)` reads a licensed, smplx-compatible model file the user downloaded
  (`SMPL_*.pkl`/`.npz`, `SMPLH_*.pkl`/`.npz`, `SMPLX_*.npz`/`.pkl`). The file's joint count decides the
  family: 24 joints SMPL, 52 SMPL+H, 55 SMPL-X. Official SMPL `.pkl` files contain chumpy arrays and a
  scipy-sparse joint regressor; both are read without chumpy when the chumpy objects are plain arrays.
* `BodyModel.skeleton_only()` needs no file: forward kinematics of the 24 SMPL joints with the neutral
  mean-shape rest skeleton built into the project (no vertices). **Betas are ignored** in this mode (the
  bone lengths are those of the mean shape); a warning says so when non-zero betas are passed outside jit.

`forward(model, global_orient, body_pose, betas, transl, ...)` runs shape blend shapes, pose blend
shapes, joint regression and linear blend skinning like the reference `smplx` package (parity is tested
to 1e-5), for any leading batch shape, and is jit/vmap/grad friendly. It returns a dict with `joints`
(the model's kinematic joints, no extra vertex joints), `joint_rotations` (world rotation of every joint)
and, for mesh models, `vertices`.

Frames: everything is in the body model's own frame (SMPL: y up, z forward, x to the person's left) rotated
by `global_orient` about the rest pelvis and then shifted by `transl`. So the world pelvis is
`transl + rest_pelvis`, not `transl`; `rest_pelvis` depends on the betas.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mimicjax.math.rotations import axis_angle_to_matrix
from mimicjax.motion.safe_pickle import chumpy_to_numpy, load_pickle
from mimicjax.motion.validate import MotionFormatError, fail

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)  # fmt: skip
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# Number of body joints (excluding the root) that each family's `body_pose` holds.
NUM_BODY_JOINTS = {"smpl": 23, "smplh": 21, "smplx": 21, "skeleton": 23}
NUM_HAND_JOINTS = 15
_FAMILY_BY_JOINT_COUNT = {24: "smpl", 52: "smplh", 55: "smplx"}
# SMPL-X shape space: 300 shape + 100 expression directions in full files, 10 + 10 in compact ones.
_SMPLX_FULL_SHAPE_DIM, _SMPLX_FULL_EXPRESSION_DIM = 300, 100

# Rest positions of the 24 SMPL joints for the neutral model at mean shape (betas = 0), in the SMPL
# body frame (x: person's left, y: up, z: forward), metres. The pelvis row is absolute; every other row is
# the offset from its parent (SMPL_PARENTS). Facts read from the ProtoMotions SMPL humanoid MJCF
# (`smpl_humanoid_protomotions.xml`, NVlabs/ProtoMotions, Apache-2.0), whose body offsets are written in
# a z-up frame with axes (forward, left, up); here they are expressed in the SMPL frame as (left, up, forward).
_NEUTRAL_REST_OFFSETS = np.array(
    [
        [-0.0018, -0.2233, 0.0282],  # pelvis (absolute)
        [0.0695, -0.0914, -0.0068],  # left_hip
        [-0.0677, -0.0905, -0.0043],  # right_hip
        [-0.0025, 0.1090, -0.0267],  # spine1
        [0.0343, -0.3752, -0.0045],  # left_knee
        [-0.0383, -0.3826, -0.0089],  # right_knee
        [0.0055, 0.1352, 0.0011],  # spine2
        [-0.0136, -0.3980, -0.0437],  # left_ankle
        [0.0158, -0.3984, -0.0423],  # right_ankle
        [0.0015, 0.0529, 0.0254],  # spine3
        [0.0264, -0.0558, 0.1193],  # left_foot
        [-0.0254, -0.0481, 0.1233],  # right_foot
        [-0.0028, 0.2139, -0.0429],  # neck
        [0.0788, 0.1217, -0.0341],  # left_collar
        [-0.0818, 0.1188, -0.0386],  # right_collar
        [0.0052, 0.0650, 0.0513],  # head
        [0.0910, 0.0305, -0.0089],  # left_shoulder
        [-0.0960, 0.0326, -0.0091],  # right_shoulder
        [0.2596, -0.0128, -0.0275],  # left_elbow
        [-0.2537, -0.0133, -0.0214],  # right_elbow
        [0.2492, 0.0090, -0.0012],  # left_wrist
        [-0.2553, 0.0078, -0.0056],  # right_wrist
        [0.0840, -0.0082, -0.0149],  # left_hand
        [-0.0846, -0.0061, -0.0103],  # right_hand
    ]
)


def neutral_rest_joints() -> np.ndarray:
    """(24, 3) absolute rest positions of the skeleton-only model, in the SMPL body frame."""
    joints = np.zeros_like(_NEUTRAL_REST_OFFSETS)
    for i, parent in enumerate(SMPL_PARENTS):
        joints[i] = _NEUTRAL_REST_OFFSETS[i] + (joints[parent] if parent >= 0 else 0.0)
    return joints


@struct.dataclass
class BodyModel:
    """A body model as a pytree of arrays; pass it to `forward` (inside or outside jit)."""

    rest_joints: jax.Array  # (J, 3) joints at betas = 0; the whole skeleton in skeleton-only mode
    v_template: jax.Array | None = None  # (V, 3)
    shapedirs: jax.Array | None = None  # (V, 3, S)
    exprdirs: jax.Array | None = None  # (V, 3, E), SMPL-X only
    posedirs: jax.Array | None = None  # (9 * (J - 1), V * 3)
    j_regressor: jax.Array | None = None  # (J, V)
    lbs_weights: jax.Array | None = None  # (V, J)
    hand_mean: jax.Array | None = None  # (30, 3) added to left+right hand poses; zeros for flat hands
    faces: jax.Array | None = None  # (F, 3) int32, for rendering
    family: str = struct.field(pytree_node=False, default="skeleton")  # smpl | smplh | smplx | skeleton
    parents: tuple = struct.field(pytree_node=False, default=SMPL_PARENTS)
    gender: str = struct.field(pytree_node=False, default="neutral")
    source: str = struct.field(pytree_node=False, default="")

    # ------------------------------------------------------------------ construction

    @classmethod
    def skeleton_only(cls, dtype=jnp.float32) -> "BodyModel":
        """The 24-joint neutral mean-shape SMPL skeleton, with no mesh and no shape space."""
        return cls(rest_joints=jnp.asarray(neutral_rest_joints(), dtype=dtype), source="built-in neutral skeleton")

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        gender: str = "neutral",
        family: str | None = None,
        flat_hand_mean: bool = False,
        dtype=jnp.float32,
    ) -> "BodyModel":
        """Load an smplx-compatible model file (or a folder holding `SMPL_NEUTRAL.pkl`-style files).

        `flat_hand_mean=False` adds the file's mean hand pose to the hand poses, like `smplx`'s default;
        pass True for data fitted relative to a flat hand (e.g. AMASS SMPL+H).
        """
        path = _resolve_model_path(Path(path), gender, family)
        data = _read_model_file(path)
        return _model_from_arrays(data, path, gender, family, flat_hand_mean, dtype)

    # ------------------------------------------------------------------ facts

    @property
    def has_mesh(self) -> bool:
        return self.v_template is not None

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_body_joints(self) -> int:
        return NUM_BODY_JOINTS[self.family]

    @property
    def num_betas(self) -> int:
        return 0 if self.shapedirs is None else int(self.shapedirs.shape[-1])

    @property
    def num_expression(self) -> int:
        return 0 if self.exprdirs is None else int(self.exprdirs.shape[-1])

    @property
    def joint_names(self) -> tuple[str, ...]:
        return SMPL_JOINT_NAMES if self.num_joints == 24 else tuple(f"joint_{i}" for i in range(self.num_joints))

    def rest_pelvis(self, betas=None) -> np.ndarray:
        """Rest position of the pelvis (3,) for `betas` (numpy, outside jit): the centre `global_orient` turns about."""
        if not self.has_mesh or betas is None:
            return np.asarray(self.rest_joints[0], dtype=np.float64)
        betas = _fit_last_dim(jnp.asarray(np.asarray(betas).reshape(-1), self.v_template.dtype), self.num_betas)
        v_shaped = self.v_template + jnp.einsum("s,vcs->vc", betas, self.shapedirs)
        return np.asarray(self.j_regressor[0] @ v_shaped, dtype=np.float64)


# ---------------------------------------------------------------------- model files


def _resolve_model_path(path: Path, gender: str, family: str | None) -> Path:
    if path.is_file():
        return path
    if not path.exists():
        raise fail(path, "body model file not found",
                   "download the SMPL/SMPL+H/SMPL-X model from smpl.is.tue.mpg.de / smpl-x.is.tue.mpg.de and pass its "
                   "path, or use BodyModel.skeleton_only() (joints only, mean shape)")
    families = [family] if family else ["smplx", "smplh", "smpl"]
    candidates = []
    for fam in families:
        for sub in ("", fam):
            for ext in ("npz", "pkl"):
                candidates.append(path / sub / f"{fam.upper()}_{gender.upper()}.{ext}")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise fail(path, f"no body model file for gender '{gender}' in this folder (looked for "
               + ", ".join(c.name for c in candidates[:4]) + ", ...)",
               "pass the model file itself, or gender=/family= matching a file in the folder")


_MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")


def _read_model_file(path: Path) -> dict:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            archive = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise fail(path, f"is not a readable npz archive ({exc})", "check that the download is complete") from None
        with archive:
            keys = set(archive.files)
            wanted = [*_MODEL_KEYS, "f", "hands_meanl", "hands_meanr"]
            try:
                data = {k: archive[k] for k in wanted if k in keys}
            except ValueError as exc:
                raise fail(path, f"holds object arrays where numeric arrays are expected ({exc})",
                           "re-save the model with numeric arrays") from None
    elif suffix == ".pkl":
        raw = load_pickle(path)
        if not isinstance(raw, dict):
            raise fail(path, f"holds a {type(raw).__name__}, not a dict of model arrays", "pass an SMPL-family model file")
        data = {}
        for key, value in raw.items():
            value = chumpy_to_numpy(value, path, key) if key in (*_MODEL_KEYS, "f", "hands_meanl", "hands_meanr") else value
            if hasattr(value, "toarray"):  # scipy sparse J_regressor
                value = value.toarray()
            data[key] = value
    else:
        raise fail(path, f"has the unknown model file extension '{path.suffix}'", "pass a .pkl or .npz SMPL-family model file")
    missing = [k for k in _MODEL_KEYS if k not in data]
    if missing:
        raise fail(path, f"lacks the model arrays {missing}", "pass an SMPL, SMPL+H or SMPL-X model file (see the format notes)")
    return data


def _model_from_arrays(data: dict, path: Path, gender: str, family: str | None, flat_hand_mean: bool, dtype) -> BodyModel:
    def arr(key, ndim):
        value = np.asarray(data[key], dtype=np.float64)
        if value.ndim != ndim:
            raise fail(path, f"'{key}' has {value.ndim} dimensions, expected {ndim}", "the model file is damaged or not SMPL-family")
        return value

    v_template = arr("v_template", 2)
    num_verts = v_template.shape[0]
    shapedirs = np.asarray(data["shapedirs"], dtype=np.float64)
    if shapedirs.ndim == 2:
        shapedirs = shapedirs[..., None]
    j_regressor = arr("J_regressor", 2)
    weights = arr("weights", 2)
    kintree = np.asarray(data["kintree_table"]).astype(np.int64)
    num_joints = j_regressor.shape[0]
    found = _FAMILY_BY_JOINT_COUNT.get(num_joints)
    if found is None:
        hint = " (a MANO hand or FLAME head model?)" if num_joints in (16, 5) else ""
        raise fail(path, f"has {num_joints} joints{hint}; SMPL has 24, SMPL+H 52, SMPL-X 55", "pass a full-body SMPL-family model file")
    if family is not None and family != found:
        raise fail(path, f"is a {found} model ({num_joints} joints) but family='{family}' was asked for", f"pass family='{found}' or another file")
    posedirs = np.asarray(data["posedirs"], dtype=np.float64)
    expected = {
        "shapedirs": (shapedirs.shape, (num_verts, 3)),
        "J_regressor": (j_regressor.shape, (num_joints, num_verts)),
        "weights": (weights.shape, (num_verts, num_joints)),
        "kintree_table": (kintree.shape, (2, num_joints)),
        "posedirs": (posedirs.shape, (num_verts, 3, 9 * (num_joints - 1))),
    }
    for key, (shape, want) in expected.items():
        if tuple(shape[: len(want)]) != want or (key == "posedirs" and len(shape) != 3):
            raise fail(path, f"'{key}' has shape {tuple(shape)}, expected {want}{' + (S,)' if key == 'shapedirs' else ''}",
                       "the model file is damaged or mixes two models")
    parents = kintree[0].copy()
    parents[0] = -1
    if any(not (0 <= p < i) for i, p in enumerate(parents[1:], start=1)):
        raise fail(path, "its kinematic tree lists a joint before its parent", "the model file is damaged")

    exprdirs = None
    if found == "smplx":
        total = shapedirs.shape[-1]
        if total >= _SMPLX_FULL_SHAPE_DIM + _SMPLX_FULL_EXPRESSION_DIM:
            shape_dim, expr_slice = _SMPLX_FULL_SHAPE_DIM, slice(_SMPLX_FULL_SHAPE_DIM, _SMPLX_FULL_SHAPE_DIM + _SMPLX_FULL_EXPRESSION_DIM)
        else:
            shape_dim, expr_slice = min(10, total), slice(10, 20)
        exprdirs = shapedirs[..., expr_slice]
        shapedirs = shapedirs[..., :shape_dim]
        if exprdirs.shape[-1] == 0:
            exprdirs = None

    hand_mean = None
    if found in ("smplh", "smplx"):
        if flat_hand_mean or "hands_meanl" not in data or "hands_meanr" not in data:
            hand_mean = np.zeros((2 * NUM_HAND_JOINTS, 3))
        else:
            left = np.asarray(chumpy_to_numpy(data["hands_meanl"], path, "hands_meanl"), dtype=np.float64).reshape(-1, 3)
            right = np.asarray(chumpy_to_numpy(data["hands_meanr"], path, "hands_meanr"), dtype=np.float64).reshape(-1, 3)
            hand_mean = np.concatenate([left, right], axis=0)

    faces = data.get("f")
    rest_joints = j_regressor @ v_template
    as_jnp = lambda a: None if a is None else jnp.asarray(a, dtype=dtype)  # noqa: E731
    return BodyModel(
        rest_joints=as_jnp(rest_joints),
        v_template=as_jnp(v_template),
        shapedirs=as_jnp(shapedirs),
        exprdirs=as_jnp(exprdirs),
        posedirs=as_jnp(posedirs.reshape(-1, posedirs.shape[-1]).T),
        j_regressor=as_jnp(j_regressor),
        lbs_weights=as_jnp(weights),
        hand_mean=as_jnp(hand_mean),
        faces=None if faces is None else jnp.asarray(np.asarray(faces, dtype=np.int64), dtype=jnp.int32),
        family=found,
        parents=tuple(int(p) for p in parents),
        gender=gender,
        source=str(path),
    )


# ---------------------------------------------------------------------- forward pass


def _fit_last_dim(x, size: int):
    """Truncate or zero-pad the last axis to `size` (betas/expression of another length than the model's)."""
    have = x.shape[-1]
    if have == size:
        return x
    if have > size:
        return x[..., :size]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, size - have)]
    return jnp.pad(x, pad)


def _body_pose_for(model: BodyModel, body_pose):
    """Accept (..., 21|23, 3) or flattened body poses and adapt SMPL <-> SMPL-X body joint counts.

    SMPL's joints 22/23 (left/right hand) are the roots of the finger chains in SMPL+H/SMPL-X, so
    going from 23 to 21 drops them and going from 21 to 23 adds them at rest; joint positions are
    unaffected either way.
    """
    body_pose = jnp.asarray(body_pose)
    if body_pose.shape[-1] != 3 or body_pose.ndim == 1:
        if body_pose.shape[-1] % 3:
            raise ValueError(f"body_pose has last dimension {body_pose.shape[-1]}, expected (..., 21|23, 3) or (..., 63|69)")
        body_pose = body_pose.reshape(body_pose.shape[:-1] + (body_pose.shape[-1] // 3, 3))
    have, want = body_pose.shape[-2], model.num_body_joints
    if have == want:
        return body_pose
    if have == 23 and want == 21:
        return body_pose[..., :21, :]
    if have == 21 and want == 23:
        pad = [(0, 0)] * (body_pose.ndim - 2) + [(0, 2), (0, 0)]
        return jnp.pad(body_pose, pad)
    raise ValueError(f"body_pose has {have} joints; the {model.family} model takes {want} (or 21/23 to convert)")


def _part(pose, num: int, batch_shape, dtype, name: str):
    """A (..., num, 3) pose part, zeros when not given."""
    if pose is None:
        return jnp.zeros(batch_shape + (num, 3), dtype)
    pose = jnp.asarray(pose, dtype)
    if num == 1 and pose.shape[-1] == 3:
        # A single joint: (..., 3) is the usual layout, (..., 1, 3) is accepted as well.
        return jnp.broadcast_to(pose if pose.ndim >= 2 and pose.shape[-2] == 1 else pose[..., None, :], batch_shape + (1, 3))
    if pose.shape[-1] != 3 or pose.ndim == 1 or pose.shape[-2] != num:
        if pose.shape[-1] % 3:
            raise ValueError(f"{name} has last dimension {pose.shape[-1]}, expected (..., {num}, 3) or (..., {3 * num})")
        pose = pose.reshape(pose.shape[:-1] + (pose.shape[-1] // 3, 3))
    if pose.shape[-2] != num:
        raise ValueError(f"{name} has {pose.shape[-2]} joints, expected {num}")
    return jnp.broadcast_to(pose, batch_shape + (num, 3))


def full_pose(
    model: BodyModel,
    global_orient,
    body_pose,
    left_hand_pose=None,
    right_hand_pose=None,
    jaw_pose=None,
    leye_pose=None,
    reye_pose=None,
):
    """Assemble the (..., J, 3) axis-angle pose of every joint in the model's joint order."""
    global_orient = jnp.asarray(global_orient)
    dtype = model.rest_joints.dtype
    global_orient = global_orient.astype(dtype)[..., None, :]
    batch_shape = global_orient.shape[:-2]
    body = jnp.broadcast_to(_body_pose_for(model, body_pose).astype(dtype), batch_shape + (model.num_body_joints, 3))
    parts = [global_orient, body]
    if model.family == "smplx":
        parts += [_part(jaw_pose, 1, batch_shape, dtype, "jaw_pose"), _part(leye_pose, 1, batch_shape, dtype, "leye_pose"),
                  _part(reye_pose, 1, batch_shape, dtype, "reye_pose")]
    if model.family in ("smplh", "smplx"):
        hands = jnp.concatenate([_part(left_hand_pose, NUM_HAND_JOINTS, batch_shape, dtype, "left_hand_pose"),
                                 _part(right_hand_pose, NUM_HAND_JOINTS, batch_shape, dtype, "right_hand_pose")], axis=-2)
        parts.append(hands + model.hand_mean)
    return jnp.concatenate(parts, axis=-2)


def _warn_if_betas_ignored(model: BodyModel, betas) -> None:
    if model.has_mesh or betas is None or isinstance(betas, jax.core.Tracer):
        return
    if np.any(np.asarray(betas) != 0):
        warnings.warn("skeleton-only body model: betas are ignored (mean-shape bone lengths are used); load a "
                      "model file with BodyModel.from_file to use body shape", stacklevel=3)


def _depth_levels(parents: tuple) -> list[list[int]]:
    """Joints grouped by depth in the kinematic tree (level 0 is the root)."""
    depth = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    return [[i for i, d in enumerate(depth) if d == level] for level in range(max(depth) + 1)]


def forward_rotations(model: BodyModel, rotations, betas=None, transl=None, expression=None, return_vertices: bool = True) -> dict:
    """Forward pass from per-joint local rotation matrices (..., J, 3, 3) in the model's joint order."""
    rotations = jnp.asarray(rotations, model.rest_joints.dtype)
    batch_shape = rotations.shape[:-3]
    dtype = rotations.dtype
    v_shaped = None
    if model.has_mesh:
        betas = jnp.zeros((model.num_betas,), dtype) if betas is None else _fit_last_dim(jnp.asarray(betas, dtype), model.num_betas)
        v_shaped = model.v_template + jnp.einsum("...s,vcs->...vc", betas, model.shapedirs)
        if model.exprdirs is not None and expression is not None:
            expression = _fit_last_dim(jnp.asarray(expression, dtype), model.num_expression)
            v_shaped = v_shaped + jnp.einsum("...e,vce->...vc", expression, model.exprdirs)
        rest = jnp.einsum("jv,...vc->...jc", model.j_regressor, v_shaped)
    else:
        rest = model.rest_joints
    rest = jnp.broadcast_to(rest, batch_shape + rest.shape[-2:])

    # Walk the tree one depth level at a time (about 10 levels instead of 24-55 joints): fewer, larger
    # ops, which keeps compile times short.
    parents = np.asarray(model.parents)
    offsets = rest - jnp.where((parents >= 0)[:, None], rest[..., np.maximum(parents, 0), :], 0.0)
    world_rot = rotations
    joints = offsets
    for level in _depth_levels(model.parents)[1:]:
        idx, par = np.asarray(level), parents[np.asarray(level)]
        parent_rot = world_rot[..., par, :, :]
        world_rot = world_rot.at[..., idx, :, :].set(parent_rot @ rotations[..., idx, :, :])
        joints = joints.at[..., idx, :].set(joints[..., par, :] + jnp.einsum("...kij,...kj->...ki", parent_rot, offsets[..., idx, :]))

    out = {"joint_rotations": world_rot}
    shift = 0.0 if transl is None else jnp.asarray(transl, dtype)[..., None, :]
    out["joints"] = joints + shift
    if model.has_mesh and return_vertices:
        eye = jnp.eye(3, dtype=dtype)
        pose_feature = (rotations[..., 1:, :, :] - eye).reshape(batch_shape + (-1,))
        v_posed = v_shaped + (pose_feature @ model.posedirs).reshape(batch_shape + (-1, 3))
        # Per-joint skinning transform: rotate about the rest joint, then move it to its posed place.
        joint_shift = joints - jnp.einsum("...jab,...jb->...ja", world_rot, rest)
        blend_rot = jnp.einsum("vj,...jab->...vab", model.lbs_weights, world_rot)
        blend_shift = jnp.einsum("vj,...ja->...va", model.lbs_weights, joint_shift)
        vertices = jnp.einsum("...vab,...vb->...va", blend_rot, v_posed) + blend_shift
        out["vertices"] = vertices + shift
    return out


def forward(
    model: BodyModel,
    global_orient,
    body_pose,
    betas=None,
    transl=None,
    *,
    left_hand_pose=None,
    right_hand_pose=None,
    jaw_pose=None,
    leye_pose=None,
    reye_pose=None,
    expression=None,
    return_vertices: bool = True,
) -> dict:
    """SMPL-family forward pass from axis-angle poses.

    global_orient (..., 3); body_pose (..., 21|23, 3) or flattened; betas (..., S) or (S,) (any length:
    truncated/zero-padded to the model's); transl (..., 3); hand poses (..., 15, 3); jaw/eye poses (..., 3);
    expression (..., E). Parts a model does not have are ignored (e.g. hands for SMPL), missing parts are
    zero. Returns {"joints": (..., J, 3), "joint_rotations": (..., J, 3, 3), "vertices": (..., V, 3)}.
    """
    _warn_if_betas_ignored(model, betas)
    pose = full_pose(model, global_orient, body_pose, left_hand_pose, right_hand_pose, jaw_pose, leye_pose, reye_pose)
    return forward_rotations(model, axis_angle_to_matrix(pose), betas, transl, expression, return_vertices)


_forward_jit = jax.jit(forward, static_argnames=("return_vertices",))


def forward_motion(model: BodyModel, motion, return_vertices: bool = False) -> dict:
    """Run `forward` (jitted) over every frame of a `HumanMotion`; returns numpy arrays."""
    _warn_if_betas_ignored(model, motion.betas)
    hands = motion.hand_pose
    face = motion.face_pose
    out = _forward_jit(
        model,
        motion.global_orient,
        motion.body_pose,
        None if not model.has_mesh else motion.betas,
        motion.transl,
        left_hand_pose=None if hands is None else hands[:, :NUM_HAND_JOINTS],
        right_hand_pose=None if hands is None else hands[:, NUM_HAND_JOINTS:],
        jaw_pose=None if face is None else face[:, 0],
        leye_pose=None if face is None else face[:, 1],
        reye_pose=None if face is None else face[:, 2],
        expression=motion.expression if model.has_mesh else None,
        return_vertices=return_vertices,
    )
    return {k: np.asarray(v) for k, v in out.items()}


__all__ = [
    "BodyModel",
    "MotionFormatError",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "forward",
    "forward_motion",
    "forward_rotations",
    "full_pose",
    "neutral_rest_joints",
]
