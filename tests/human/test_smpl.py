"""JAX body model: parity with the reference `smplx` package on synthetic model files, and skeleton-only FK."""

from __future__ import annotations

import pickle
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.human import HumanMotion
from mimicjax.human.smpl import BodyModel, forward, forward_motion, neutral_rest_joints
from mimicjax.motion.validate import MotionFormatError
from tests.human.synthetic_body import make_model_arrays, write_npz, write_pkl

BATCH = 4
TOL = 1e-5


def _random_inputs(family: str, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    num_body = 23 if family == "smpl" else 21
    inputs = {
        "global_orient": rng.normal(scale=0.8, size=(BATCH, 3)),
        "body_pose": rng.normal(scale=0.5, size=(BATCH, num_body * 3)),
        "betas": rng.normal(size=(BATCH, 10)),
        "transl": rng.normal(size=(BATCH, 3)),
    }
    if family in ("smplh", "smplx"):
        inputs["left_hand_pose"] = rng.normal(scale=0.4, size=(BATCH, 45))
        inputs["right_hand_pose"] = rng.normal(scale=0.4, size=(BATCH, 45))
    if family == "smplx":
        inputs["jaw_pose"] = rng.normal(scale=0.2, size=(BATCH, 3))
        inputs["leye_pose"] = rng.normal(scale=0.2, size=(BATCH, 3))
        inputs["reye_pose"] = rng.normal(scale=0.2, size=(BATCH, 3))
        inputs["expression"] = rng.normal(size=(BATCH, 10))
    return {k: v.astype(np.float32) for k, v in inputs.items()}


def _smplx_reference(family: str, path, inputs: dict, ext: str, flat_hand_mean: bool = False):
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    kwargs = dict(model_path=str(path), batch_size=BATCH)
    if family == "smpl":
        model = smplx.SMPL(**kwargs)
    elif family == "smplh":
        model = smplx.SMPLH(**kwargs, ext=ext, use_pca=False, flat_hand_mean=flat_hand_mean)
    else:
        model = smplx.SMPLX(**kwargs, ext=ext, use_pca=False, flat_hand_mean=flat_hand_mean)
    # The extra "vertex joints" index the real 6890/10475-vertex meshes; point them at a vertex that exists.
    selector = model.vertex_joint_selector
    selector.extra_joints_idxs = torch.zeros_like(selector.extra_joints_idxs)
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, return_verts=True)
    num_joints = {"smpl": 24, "smplh": 52, "smplx": 55}[family]
    return out.joints[:, :num_joints].numpy(), out.vertices.numpy()


def _ours(path, inputs: dict, **kwargs):
    model = BodyModel.from_file(path, **kwargs)
    out = jax.jit(forward)(model, **inputs)
    return model, np.asarray(out["joints"]), np.asarray(out["vertices"])


@pytest.mark.parametrize("ext", ["pkl", "npz"])
def test_smpl_matches_smplx(tmp_path, ext):
    arrays = make_model_arrays("smpl", seed=0)
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    write_pkl(arrays, pkl)  # sparse J_regressor, as in the official files
    ours_path = pkl if ext == "pkl" else tmp_path / "SMPL_NEUTRAL.npz"
    if ext == "npz":
        write_npz(arrays, ours_path)
    inputs = _random_inputs("smpl")
    ref_joints, ref_verts = _smplx_reference("smpl", pkl, inputs, ext="pkl")
    model, joints, verts = _ours(ours_path, inputs)
    assert model.family == "smpl" and model.num_joints == 24
    np.testing.assert_allclose(joints, ref_joints, atol=TOL)
    np.testing.assert_allclose(verts, ref_verts, atol=TOL)


@pytest.mark.parametrize("flat_hand_mean", [False, True])
def test_smplx_matches_smplx(tmp_path, flat_hand_mean):
    path = tmp_path / "SMPLX_NEUTRAL.npz"
    write_npz(make_model_arrays("smplx", seed=3), path)
    inputs = _random_inputs("smplx", seed=4)
    ref_joints, ref_verts = _smplx_reference("smplx", path, inputs, ext="npz", flat_hand_mean=flat_hand_mean)
    model, joints, verts = _ours(path, inputs, flat_hand_mean=flat_hand_mean)
    assert model.family == "smplx" and model.num_joints == 55 and model.num_expression == 10
    np.testing.assert_allclose(joints, ref_joints, atol=TOL)
    np.testing.assert_allclose(verts, ref_verts, atol=TOL)


def test_smplh_matches_smplx(tmp_path):
    path = tmp_path / "SMPLH_NEUTRAL.npz"
    write_npz(make_model_arrays("smplh", seed=5), path)
    inputs = _random_inputs("smplh", seed=6)
    ref_joints, ref_verts = _smplx_reference("smplh", path, inputs, ext="npz")
    model, joints, verts = _ours(path, inputs)
    assert model.family == "smplh" and model.num_joints == 52
    np.testing.assert_allclose(joints, ref_joints, atol=TOL)
    np.testing.assert_allclose(verts, ref_verts, atol=TOL)


def test_forward_vmaps_and_shares_betas(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    write_npz(make_model_arrays("smpl", seed=7), path)
    model = BodyModel.from_file(path)
    inputs = _random_inputs("smpl", seed=8)
    betas = inputs["betas"][0]  # one shape for the whole clip
    batched = jax.jit(forward)(model, inputs["global_orient"], inputs["body_pose"], betas, inputs["transl"])
    per_frame = jax.jit(jax.vmap(lambda g, b, t: forward(model, g, b, betas, t)))(
        inputs["global_orient"], inputs["body_pose"], inputs["transl"])
    np.testing.assert_allclose(batched["joints"], per_frame["joints"], atol=1e-6)
    np.testing.assert_allclose(batched["vertices"], per_frame["vertices"], atol=1e-6)


def test_rest_pose_and_rest_pelvis(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    arrays = make_model_arrays("smpl", seed=9)
    write_npz(arrays, path)
    model = BodyModel.from_file(path)
    betas = np.linspace(-1, 1, 10)
    out = jax.jit(forward)(model, np.zeros(3), np.zeros(69), betas, np.zeros(3))
    np.testing.assert_allclose(out["joints"][0], model.rest_pelvis(betas), atol=1e-6)
    shaped = arrays["v_template"] + np.einsum("s,vcs->vc", betas, arrays["shapedirs"])
    np.testing.assert_allclose(out["vertices"], shaped, atol=1e-5)  # no pose: no pose blend shapes, no skinning


def test_skeleton_only_rest_and_rotation():
    model = BodyModel.skeleton_only()
    assert not model.has_mesh and model.num_joints == 24
    fk = jax.jit(forward)
    out = fk(model, np.zeros(3), np.zeros((23, 3)), transl=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out["joints"], neutral_rest_joints() + [1.0, 2.0, 3.0], atol=1e-6)
    assert "vertices" not in out
    # A quarter turn about +x tips the body's up (+y) onto +z: the head ends above the pelvis along z.
    tipped = fk(model, np.array([np.pi / 2, 0.0, 0.0]), np.zeros((23, 3)))["joints"]
    head_minus_pelvis = np.asarray(tipped[15] - tipped[0])
    assert head_minus_pelvis[2] > 0.5 and abs(head_minus_pelvis[1]) < 0.1
    # Rest skeleton of a ~1.7 m person: head to foot joints about 1.5 m.
    rest = neutral_rest_joints()
    assert 1.3 < rest[15, 1] - rest[10, 1] < 1.7


def test_skeleton_only_warns_about_betas_and_accepts_smplx_body_pose():
    model = BodyModel.skeleton_only()
    motion = HumanMotion(global_orient=np.zeros((4, 3)), body_pose=np.zeros((4, 23, 3)), transl=np.zeros((4, 3)),
                         betas=np.ones(10), fps=30.0)
    with pytest.warns(UserWarning, match="betas are ignored"):
        forward_motion(model, motion)
    out = jax.jit(forward)(model, np.zeros((2, 3)), np.zeros((2, 21, 3)))  # SMPL-X body pose: hand joints added at rest
    assert out["joints"].shape == (2, 24, 3)


def test_gradients_are_finite_at_rest_pose(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    write_npz(make_model_arrays("smpl", seed=10), path)
    model = BodyModel.from_file(path)

    def loss(body_pose):
        out = forward(model, jnp.zeros(3), body_pose, jnp.zeros(10), jnp.zeros(3))
        return jnp.sum(out["joints"] ** 2) + jnp.sum(out["vertices"] ** 2)

    grad = jax.jit(jax.grad(loss))(jnp.zeros((23, 3)))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_model_file_errors_name_the_file_and_fix(tmp_path):
    with pytest.raises(MotionFormatError, match="not found.*skeleton_only"):
        BodyModel.from_file(tmp_path / "missing" / "SMPL_NEUTRAL.pkl")
    arrays = make_model_arrays("smpl", seed=11)
    del arrays["posedirs"]
    broken = tmp_path / "broken.npz"
    write_npz(arrays, broken)
    with pytest.raises(MotionFormatError, match=r"broken.npz.*posedirs"):
        BodyModel.from_file(broken)
    mano = make_model_arrays("smpl", seed=12)
    mano["J_regressor"] = mano["J_regressor"][:16]
    mano["weights"] = mano["weights"][:, :16]
    mano["kintree_table"] = mano["kintree_table"][:, :16]
    write_npz(mano, tmp_path / "MANO_RIGHT.npz")
    with pytest.raises(MotionFormatError, match="16 joints.*MANO"):
        BodyModel.from_file(tmp_path / "MANO_RIGHT.npz")
    (tmp_path / "text.pkl").write_text("not a pickle")
    with pytest.raises(MotionFormatError, match="text.pkl"):
        BodyModel.from_file(tmp_path / "text.pkl")


def test_folder_lookup_by_gender(tmp_path):
    write_npz(make_model_arrays("smplx", seed=13), tmp_path / "smplx" / "SMPLX_FEMALE.npz")
    model = BodyModel.from_file(tmp_path, gender="female")
    assert model.family == "smplx" and model.gender == "female"


def _fake_chumpy_module():
    """A stand-in `chumpy` package whose `Ch` pickles like chumpy's: a class with the value in `x`."""
    package = types.ModuleType("chumpy")
    module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    module.Ch = Ch
    package.ch = module
    return package, module, Ch


def test_official_style_pkl_with_chumpy_arrays_loads_without_chumpy(tmp_path, monkeypatch):
    package, module, Ch = _fake_chumpy_module()
    monkeypatch.setitem(sys.modules, "chumpy", package)
    monkeypatch.setitem(sys.modules, "chumpy.ch", module)
    arrays = make_model_arrays("smpl", seed=14)
    data = {k: (Ch(v) if k in ("v_template", "shapedirs", "weights") else v) for k, v in arrays.items()}
    good, bad = tmp_path / "SMPL_NEUTRAL.pkl", tmp_path / "SMPL_BAD.pkl"
    with open(good, "wb") as f:
        pickle.dump(data, f, protocol=2)
    opaque = Ch(None)
    del opaque.x
    opaque.a = 1
    with open(bad, "wb") as f:
        pickle.dump({**data, "v_template": opaque}, f, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")

    model = BodyModel.from_file(good)
    np.testing.assert_allclose(np.asarray(model.v_template), arrays["v_template"], atol=1e-6)
    with pytest.raises(MotionFormatError, match="chumpy.*np.array"):
        BodyModel.from_file(bad)


def test_pickles_that_would_run_code_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "SMPL_EVIL.pkl"
    with open(path, "wb") as f:
        pickle.dump({"v_template": Evil()}, f)
    with pytest.raises(MotionFormatError, match="builtins.print.*not loaded for safety"):
        BodyModel.from_file(path)
