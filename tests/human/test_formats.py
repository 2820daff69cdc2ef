"""Human motion readers: real reference files, synthetic files in each tool's published layout, bad input."""

from __future__ import annotations

import pickle
import sys
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mimicjax.human import (
    BodyModel,
    HumanMotion,
    MotionFormatError,
    MotionRepairWarning,
    forward_motion,
    load_human_motion,
    save_amass_npz,
)
from mimicjax.human.formats import detect_up_axis
from mimicjax.human.smpl import SMPL_JOINT_NAMES, SMPL_PARENTS, neutral_rest_joints
from mimicjax.motion.safe_pickle import load_pickle
from tests.conftest import reference_file

ASAP_SMPL = "smpl/asap_video_walk_level1_filter_amass.npz"
SMPLCODEC = "smpl/smplcodec_apose_to_handsFront_smplx.npz"
PELVIS = neutral_rest_joints()[0]


def standing_motion(num: int = 40, fps: float = 30.0, seed: int = 0) -> HumanMotion:
    """A smooth, upright Z-up SMPL motion: a person turning slowly while walking forward."""
    rng = np.random.default_rng(seed)
    t = np.arange(num) / fps
    yaw = Rotation.from_euler("z", (0.3 * t)[:, None])
    orient = (yaw * Rotation.from_euler("x", 90, degrees=True)).as_rotvec()
    phase = rng.uniform(0, 2 * np.pi, size=(23, 3))
    body = 0.2 * np.sin(2.0 * t[:, None, None] + phase[None])
    transl = np.stack([0.8 * t, 0.1 * np.sin(t), 0.9 + 0.02 * np.sin(4 * t)], axis=1)
    return HumanMotion(global_orient=orient, body_pose=body, transl=transl, betas=np.zeros(10), fps=fps, up_axis="z")


def to_y_up(motion: HumanMotion) -> HumanMotion:
    """The same motion in a y-up world (inverse of the loader's y -> z turn)."""
    turn = Rotation.from_euler("x", -90, degrees=True)
    orient = (turn * Rotation.from_rotvec(motion.global_orient)).as_rotvec()
    transl = turn.apply(motion.transl + PELVIS) - PELVIS
    return motion.replace(global_orient=orient, transl=transl, up_axis="y")


def assert_same_motion(a: HumanMotion, b: HumanMotion, atol: float = 1e-5) -> None:
    ra, rb = Rotation.from_rotvec(a.global_orient), Rotation.from_rotvec(b.global_orient)
    assert np.all((ra.inv() * rb).magnitude() < atol)
    np.testing.assert_allclose(a.transl, b.transl, atol=atol)
    np.testing.assert_allclose(a.smpl_body_pose()[:, :21], b.smpl_body_pose()[:, :21], atol=atol)


# ---------------------------------------------------------------------- real reference files


def test_asap_amass_walk_is_z_up_30fps():
    path = reference_file(ASAP_SMPL)
    motion = load_human_motion(path, to_z_up=False)
    assert motion.up_axis == "z" and motion.fps == 30.0 and motion.num_frames == 152
    assert motion.model_type == "smpl" and motion.body_pose.shape == (152, 23, 3) and motion.betas.shape == (16,)
    assert motion.source_format == "amass" and motion.gender == "neutral"
    assert detect_up_axis(motion.global_orient) == "z"


def test_skeleton_fk_bone_directions_match_asap_smpl_joints():
    """ASAP stored SMPL joint positions for the same walk (with a robot-sized body shape, so bone lengths
    differ): the skeleton-only FK must point every limb bone the same way."""
    motion = load_human_motion(reference_file(ASAP_SMPL))
    asap = load_pickle(reference_file("g1_motions/asap_g1_video_walk_level1_filter.pkl"))
    theirs = next(iter(asap.values()))["smpl_joints"]
    ours = forward_motion(BodyModel.skeleton_only(), motion)["joints"]
    for name in ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "neck"):
        i = SMPL_JOINT_NAMES.index(name)
        p = SMPL_PARENTS[i]
        a, b = ours[:, i] - ours[:, p], theirs[:, i] - theirs[:, p]
        cosine = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cosine.mean() > 0.98, name
    # Both stand on the same floor up to ASAP's height offset: the walk's feet are near the ground.
    assert 0.0 < ours[:, :, 2].min() < 0.1


@pytest.mark.filterwarnings("ignore:skeleton-only body model")
def test_smplcodec_smplx_needs_fps_and_is_turned_upright():
    path = reference_file(SMPLCODEC)
    with pytest.raises(MotionFormatError, match=r"smplcodec.*frame rate.*fps="):
        load_human_motion(path)
    raw = load_human_motion(path, fps=30, to_z_up=False)
    assert raw.up_axis == "y" and raw.model_type == "smplx" and raw.source_format == "smplx"
    assert raw.body_pose.shape == (34, 21, 3) and raw.hand_pose.shape == (34, 30, 3) and raw.face_pose.shape == (34, 3, 3)
    upright = load_human_motion(path, fps=30)
    assert upright.up_axis == "z"
    joints = forward_motion(BodyModel.skeleton_only(), upright)["joints"]
    spine = joints[:, 15] - joints[:, 0]  # pelvis -> head
    assert np.all(spine[:, 2] > 0.5) and np.all(np.linalg.norm(spine[:, :2], axis=-1) < 0.15)
    # Forcing the up axis skips detection (here: wrongly claiming z-up leaves the person lying).
    forced = load_human_motion(path, fps=30, up_axis="z")
    np.testing.assert_allclose(forced.global_orient, raw.global_orient)


def test_resampling_keeps_frames_and_duration():
    motion = load_human_motion(reference_file(ASAP_SMPL))
    double = motion.resample(60)
    assert double.num_frames == 2 * (motion.num_frames - 1) + 1 and double.fps == 60
    np.testing.assert_allclose(double.transl[::2], motion.transl, atol=1e-9)
    same = Rotation.from_rotvec(double.body_pose[::2].reshape(-1, 3)).inv() * Rotation.from_rotvec(motion.body_pose.reshape(-1, 3))
    assert same.magnitude().max() < 1e-9
    # A midpoint is the slerp halfway point of its neighbours.
    a, b = Rotation.from_rotvec(motion.global_orient[10]), Rotation.from_rotvec(motion.global_orient[11])
    halfway = a * Rotation.from_rotvec(0.5 * (a.inv() * b).as_rotvec())
    assert (halfway.inv() * Rotation.from_rotvec(double.global_orient[21])).magnitude() < 1e-9
    slow = motion.resample(20)
    assert slow.num_frames == int(np.floor(151 / 30 * 20)) + 1
    assert abs(slow.duration - motion.duration) < 1 / 20


# ---------------------------------------------------------------------- synthetic files per tool


def test_amass_npz_round_trip_and_y_up_detection(tmp_path):
    motion = standing_motion()
    save_amass_npz(motion, tmp_path / "walk.npz")
    loaded = load_human_motion(tmp_path / "walk.npz")
    assert_same_motion(loaded, motion)
    save_amass_npz(to_y_up(motion), tmp_path / "walk_yup.npz")
    loaded = load_human_motion(tmp_path / "walk_yup.npz", to_z_up=False)
    assert loaded.up_axis == "y"
    assert_same_motion(loaded.to_z_up(), motion)


def _gvhmr_params(motion: HumanMotion) -> dict:
    num = motion.num_frames
    return {
        "global_orient": motion.global_orient.astype(np.float32),
        "body_pose": motion.body_pose[:, :21].reshape(num, 63).astype(np.float32),
        "transl": motion.transl.astype(np.float32),
        "betas": np.zeros((num, 10), np.float32),
    }


def test_gvhmr_pt_file(tmp_path):
    torch = pytest.importorskip("torch")
    motion = standing_motion()
    params = {k: torch.from_numpy(v) for k, v in _gvhmr_params(to_y_up(motion)).items()}
    path = tmp_path / "hmr4d_results.pt"
    torch.save({"smpl_params_global": params, "smpl_params_incam": params, "K_fullimg": torch.eye(3)[None]}, path)
    with pytest.raises(MotionFormatError, match="hmr4d_results.pt.*fps="):
        load_human_motion(path)
    loaded = load_human_motion(path, fps=30)
    assert loaded.source_format == "gvhmr" and loaded.model_type == "smplx" and loaded.body_pose.shape[1] == 21
    assert_same_motion(loaded, motion, atol=1e-5)


def test_gvhmr_without_torch_says_how_to_fix(tmp_path, monkeypatch):
    (tmp_path / "hmr4d_results.pt").write_bytes(b"PK\x03\x04 not really")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MotionFormatError, match="torch is not installed.*np.savez"):
        load_human_motion(tmp_path / "hmr4d_results.pt", fps=30)


def test_gvhmr_npz_resaves(tmp_path):
    motion = standing_motion()
    params = _gvhmr_params(to_y_up(motion))
    np.savez(tmp_path / "flat.npz", **params)
    np.savez(tmp_path / "nested.npz", smpl_params_global=params)  # a dict inside an npz (object array)
    flat = load_human_motion(tmp_path / "flat.npz", fps=30)
    nested = load_human_motion(tmp_path / "nested.npz", fps=30)
    assert flat.source_format == "smpl_params" and nested.source_format == "gvhmr"
    assert_same_motion(flat, motion)
    assert_same_motion(nested, motion)


def _wham_result(motion: HumanMotion, frame_ids) -> dict:
    num = motion.num_frames
    pose = np.concatenate([motion.global_orient, motion.body_pose.reshape(num, -1)], axis=1)
    return {"pose": pose, "trans": motion.transl, "pose_world": pose, "trans_world": motion.transl,
            "betas": np.zeros((num, 10)), "verts": np.zeros((num, 2, 3)), "frame_ids": np.asarray(frame_ids)}


def test_wham_pickle_picks_longest_subject_and_fills_gaps(tmp_path):
    motion = to_y_up(standing_motion(num=40))
    keep = np.r_[0:20, 22:40]  # two frames lost to occlusion
    results = {0: _wham_result(motion.slice(0, 10), np.arange(10)),
               1: _wham_result(motion.replace(**{k: getattr(motion, k)[keep] for k in ("global_orient", "body_pose", "transl")}), keep)}
    path = tmp_path / "wham_output.pkl"
    with open(path, "wb") as f:
        pickle.dump(results, f)
    with pytest.warns(UserWarning) as record:
        loaded = load_human_motion(path, fps=30)
    messages = " ".join(str(w.message) for w in record)
    assert "2 people tracked" in messages and "misses 2 frame(s)" in messages
    assert loaded.source_format == "wham" and loaded.num_frames == 40
    assert_same_motion(loaded, standing_motion(num=40), atol=2e-3)  # the two filled frames are interpolated
    only = load_human_motion(path, fps=30, subject=0)
    assert only.num_frames == 10


def test_tram_hps_track_with_camera(tmp_path):
    torch = pytest.importorskip("torch")
    motion = standing_motion(num=30)
    world_to_cam = Rotation.from_euler("x", 90, degrees=True)  # TRAM world: camera-like, y down
    cam = motion.replace(global_orient=(world_to_cam * Rotation.from_rotvec(motion.global_orient)).as_rotvec(),
                         transl=world_to_cam.apply(motion.transl + PELVIS) - PELVIS)
    rotmats = Rotation.from_rotvec(np.concatenate([cam.global_orient[:, None], cam.body_pose], 1).reshape(-1, 3)).as_matrix()
    hps = {"pred_rotmat": torch.from_numpy(rotmats.reshape(30, 24, 3, 3)).float(),
           "pred_shape": torch.zeros(30, 10), "pred_trans": torch.from_numpy(cam.transl[:, None]).float(),
           "frame": torch.arange(30)}
    seq = tmp_path / "results" / "clip"
    (seq / "hps").mkdir(parents=True)
    np.save(seq / "hps" / "hps_track_0.npy", hps, allow_pickle=True)
    # camera.npy: camera-to-world per frame; the identity keeps the camera frame as TRAM's world.
    np.save(seq / "camera.npy", {"pred_cam_R": np.tile(np.eye(3), (30, 1, 1)), "pred_cam_T": np.zeros((30, 3)),
                                 "img_focal": 1000.0}, allow_pickle=True)
    loaded = load_human_motion(seq / "hps" / "hps_track_0.npy", fps=30, to_z_up=False)
    assert loaded.source_format == "tram" and loaded.up_axis == "-y"
    assert_same_motion(loaded.to_z_up(), motion, atol=1e-5)
    # Re-saved as a plain npz of arrays.
    np.savez(tmp_path / "tram.npz", **{k: v.numpy() for k, v in hps.items()})
    assert_same_motion(load_human_motion(tmp_path / "tram.npz", fps=30), motion, atol=1e-5)


def test_4dhumans_phalp_tracklets(tmp_path):
    motion = standing_motion(num=12)
    cam = Rotation.from_euler("x", 90, degrees=True)  # camera frame: y down
    orient = (cam * Rotation.from_rotvec(motion.global_orient)).as_matrix()
    transl = cam.apply(motion.transl + PELVIS) - PELVIS
    body = Rotation.from_rotvec(motion.body_pose.reshape(-1, 3)).as_matrix().reshape(12, 23, 3, 3)
    frames = {}
    for t in range(12):
        tids, smpl, camera = [7], [{"global_orient": orient[t][None], "body_pose": body[t], "betas": np.zeros(10)}], [transl[t]]
        if t < 4:  # a second, short-lived person
            tids.append(3)
            smpl.append(smpl[0])
            camera.append(transl[t] + 1.0)
        if t == 6:  # person 7 occluded in one frame
            tids, smpl, camera = tids[1:], smpl[1:], camera[1:]
        frames[f"outputs/_DEMO/clip/img/{t:06d}.jpg"] = {"time": t, "tid": tids, "smpl": smpl, "camera": camera,
                                                          "shot": 0, "frame_path": f"{t:06d}.jpg"}
    path = tmp_path / "demo_clip.pkl"
    with open(path, "wb") as f:
        pickle.dump(frames, f)
    with pytest.warns(UserWarning) as record:
        loaded = load_human_motion(path, fps=30)
    messages = " ".join(str(w.message) for w in record)
    assert "2 people tracked" in messages and "misses 1 frame(s)" in messages
    assert loaded.source_format == "4dhumans" and loaded.num_frames == 12
    assert_same_motion(loaded, motion, atol=2e-3)


# ---------------------------------------------------------------------- bad input


def _write_amass(path, poses, trans, fps=30):
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(10), mocap_framerate=fps, gender="neutral")


def _poses_and_trans(motion: HumanMotion):
    num = motion.num_frames
    return np.concatenate([motion.global_orient, motion.body_pose.reshape(num, -1)], 1), motion.transl.copy()


def test_unknown_keys_wrong_shapes_and_unreadable_files(tmp_path):
    np.savez(tmp_path / "odd.npz", positions=np.zeros((10, 3)))
    with pytest.raises(MotionFormatError, match=r"odd.npz.*does not look like.*format="):
        load_human_motion(tmp_path / "odd.npz")
    with pytest.raises(MotionFormatError, match=r"odd.npz.*'poses'"):
        load_human_motion(tmp_path / "odd.npz", format="amass")
    _write_amass(tmp_path / "wide.npz", np.zeros((10, 70)), np.zeros((10, 3)))
    with pytest.raises(MotionFormatError, match=r"wide.npz.*70 values.*72"):
        load_human_motion(tmp_path / "wide.npz")
    _write_amass(tmp_path / "short_trans.npz", np.zeros((10, 72)), np.zeros((9, 3)))
    with pytest.raises(MotionFormatError, match=r"short_trans.npz.*9 frames"):
        load_human_motion(tmp_path / "short_trans.npz")
    (tmp_path / "garbage.npz").write_bytes(b"\x00garbage")
    with pytest.raises(MotionFormatError, match=r"garbage.npz.*not a readable npz"):
        load_human_motion(tmp_path / "garbage.npz")
    (tmp_path / "garbage.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(MotionFormatError, match=r"garbage.pkl.*cannot be unpickled"):
        load_human_motion(tmp_path / "garbage.pkl")
    with pytest.raises(MotionFormatError, match=r"missing.npz.*not found"):
        load_human_motion(tmp_path / "missing.npz")
    with pytest.raises(MotionFormatError, match=r"clip.bvh.*extension"):
        (tmp_path / "clip.bvh").write_text("HIERARCHY")
        load_human_motion(tmp_path / "clip.bvh")
    with pytest.raises(MotionFormatError, match="format='nope'"):
        load_human_motion(tmp_path / "wide.npz", format="nope")


def test_too_short_clip(tmp_path):
    _write_amass(tmp_path / "three.npz", np.zeros((3, 72)), np.zeros((3, 3)))
    with pytest.raises(MotionFormatError, match=r"three.npz.*3 frame\(s\).*at least 4"):
        load_human_motion(tmp_path / "three.npz")


def test_nan_frames_are_dropped_at_the_ends_and_interpolated_inside(tmp_path):
    poses, trans = _poses_and_trans(standing_motion(num=40))
    poses[0, 5] = np.nan
    trans[20] = np.inf
    _write_amass(tmp_path / "holes.npz", poses, trans)
    with pytest.warns(MotionRepairWarning, match=r"holes.npz.*2 with NaN/Inf.*dropped frames 0.*interpolated frames 20"):
        motion = load_human_motion(tmp_path / "holes.npz")
    assert motion.num_frames == 39 and np.all(np.isfinite(motion.transl))
    np.testing.assert_allclose(motion.transl[19], 0.5 * (trans[19] + trans[21]), atol=1e-6)
    with pytest.raises(MotionFormatError, match=r"holes.npz.*frames 0, 20 are bad.*repair=True"):
        load_human_motion(tmp_path / "holes.npz", repair=False)


def test_teleporting_frame_is_interpolated_and_long_jumps_raise(tmp_path):
    poses, trans = _poses_and_trans(standing_motion(num=40))
    trans[15] += [3.0, 0.0, 0.0]  # 3 m in 1/30 s
    _write_amass(tmp_path / "teleport.npz", poses, trans)
    with pytest.warns(MotionRepairWarning, match=r"teleport.npz.*teleports faster than 10 m/s.*interpolated frames 15"):
        motion = load_human_motion(tmp_path / "teleport.npz")
    assert motion.num_frames == 40 and abs(motion.transl[15, 0] - 0.5 * (trans[14, 0] + trans[16, 0])) < 1e-6
    with pytest.raises(MotionFormatError, match="teleport.npz.*frames 15 are bad"):
        load_human_motion(tmp_path / "teleport.npz", repair=False)
    poses, trans = _poses_and_trans(standing_motion(num=40))
    trans[20:] += [5.0, 0.0, 0.0]  # two long halves: not a single bad frame
    _write_amass(tmp_path / "glued.npz", poses, trans)
    with pytest.raises(MotionFormatError, match=r"glued.npz.*jumps 5.0\d m between frames 19 and 20.*split the clip"):
        load_human_motion(tmp_path / "glued.npz")
    # A slower frame rate makes the same jump plausible.
    with pytest.warns(UserWarning, match="file says 30 fps but fps=1"):
        assert load_human_motion(tmp_path / "glued.npz", fps=1.0).num_frames == 40


def test_up_axis_unclear_raises_and_format_conventions_apply(tmp_path):
    motion = standing_motion(num=40)
    spin = Rotation.from_euler("y", np.linspace(0, 2 * np.pi, 40)[:, None]) * Rotation.from_euler("x", 90, degrees=True)
    poses, trans = _poses_and_trans(motion.replace(global_orient=spin.as_rotvec()))
    trans[:] = trans[0]
    _write_amass(tmp_path / "tumble.npz", poses, trans)
    with pytest.raises(MotionFormatError, match=r"tumble_params.npz.*which way is up.*up_axis="):
        np.savez(tmp_path / "tumble_params.npz", global_orient=poses[:, :3], body_pose=poses[:, 3:], transl=trans)
        load_human_motion(tmp_path / "tumble_params.npz", fps=30)
    with pytest.warns(UserWarning, match="amass convention up_axis='z'"):
        assert load_human_motion(tmp_path / "tumble.npz", to_z_up=False).up_axis == "z"
    assert load_human_motion(tmp_path / "tumble.npz", up_axis="y", to_z_up=False).up_axis == "y"


def test_fps_argument_overrides_file_with_warning(tmp_path):
    poses, trans = _poses_and_trans(standing_motion())
    _write_amass(tmp_path / "clip.npz", poses, trans, fps=30)
    with pytest.warns(UserWarning, match="file says 30 fps but fps=60"):
        assert load_human_motion(tmp_path / "clip.npz", fps=60).fps == 60
    with pytest.raises(MotionFormatError, match="not a positive number"):
        load_human_motion(tmp_path / "clip.npz", fps=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_human_motion(tmp_path / "clip.npz")
