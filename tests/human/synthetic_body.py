"""Small random SMPL-family model files in the smplx layout, for parity tests (real files are licence-gated)."""

from __future__ import annotations

import pickle

import numpy as np
import scipy.sparse

from mimicjax.io_utils import atomic_path

SMPL_BODY_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]  # first 22 joints


def _hand_parents(wrist: int, first_index: int) -> list[int]:
    """Five 3-joint finger chains hanging off `wrist`, numbered from `first_index`."""
    parents = []
    for finger in range(5):
        base = first_index + 3 * finger
        parents += [wrist, base, base + 1]
    return parents


def family_parents(family: str) -> list[int]:
    if family == "smpl":
        return SMPL_BODY_PARENTS + [20, 21]
    if family == "smplh":
        return SMPL_BODY_PARENTS + _hand_parents(20, 22) + _hand_parents(21, 37)
    if family == "smplx":
        return SMPL_BODY_PARENTS + [15, 15, 15] + _hand_parents(20, 25) + _hand_parents(21, 40)
    raise ValueError(family)


def make_model_arrays(family: str, seed: int = 0, num_verts: int = 50, num_shape: int | None = None) -> dict:
    rng = np.random.default_rng(seed)
    parents = family_parents(family)
    num_joints = len(parents)
    if num_shape is None:
        num_shape = 20 if family == "smplx" else 10
    v_template = rng.uniform(-0.5, 0.5, size=(num_verts, 3)) * np.array([0.6, 1.7, 0.3])
    regressor = np.zeros((num_joints, num_verts))
    for j in range(num_joints):
        picks = rng.choice(num_verts, size=4, replace=False)
        regressor[j, picks] = rng.dirichlet(np.ones(4))
    weights = rng.dirichlet(np.ones(num_joints) * 0.3, size=num_verts)
    kintree = np.stack([np.array(parents, dtype=np.int64), np.arange(num_joints)])
    kintree[0, 0] = 4294967295  # as in the official files (uint32 -1)
    arrays = {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.02, size=(num_verts, 3, num_shape)),
        "posedirs": rng.normal(scale=0.01, size=(num_verts, 3, 9 * (num_joints - 1))),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, num_verts, size=(96, 3)).astype(np.int64),
    }
    if family in ("smplh", "smplx"):
        for side in "lr":
            arrays[f"hands_components{side}"] = np.linalg.qr(rng.normal(size=(45, 45)))[0]
            arrays[f"hands_mean{side}"] = rng.normal(scale=0.2, size=45)
    if family == "smplx":
        arrays["lmk_faces_idx"] = rng.integers(0, 96, size=51).astype(np.int64)
        arrays["lmk_bary_coords"] = rng.dirichlet(np.ones(3), size=51)
    return arrays


def write_npz(arrays: dict, path) -> None:
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def write_pkl(arrays: dict, path, sparse_regressor: bool = True) -> None:
    data = dict(arrays)
    if sparse_regressor:
        data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            pickle.dump(data, f, protocol=2)
