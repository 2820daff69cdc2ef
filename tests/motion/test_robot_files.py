"""Robot motion readers/writers: reference files, round trips, synthetic BeyondMimic files, bad input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mimicjax import robots
from mimicjax.motion import MotionFormatError, MotionRepairWarning, RobotMotion, load_robot_clips, load_robot_motion, save_robot_motion

G1_JOINT_NAMES_29 = robots.get("g1_29dof").joint_names
G1_JOINT_NAMES_23 = robots.get("g1_23dof").joint_names
G1_ISAACLAB_JOINT_NAMES_29 = robots.get("g1_29dof").file_joint_order("isaaclab")
from tests.conftest import reference_file

KIMODO = "g1_motions/kimodo_walk_29dof_wxyz.csv"
GMR_BAD = "g1_motions/gmr_walk_29dof_badframe0.pkl"
GMR_23 = "g1_motions/gmr_walk_stand_23dof.pkl"
ASAP = "g1_motions/asap_g1_video_walk_level1_filter.pkl"


def upright(motion: RobotMotion) -> np.ndarray:
    """Per-frame z component of the pelvis z axis."""
    return Rotation.from_quat(motion.root_quat, scalar_first=True).apply([0.0, 0.0, 1.0])[:, 2]


def synthetic_motion(num: int = 30, dof: int = 29, fps: float = 30.0) -> RobotMotion:
    t = np.arange(num) / fps
    yaw = Rotation.from_euler("z", (0.5 * t)[:, None])
    return RobotMotion(
        fps=fps,
        root_pos=np.stack([0.7 * t, 0.05 * np.sin(3 * t), 0.78 + 0.01 * np.cos(6 * t)], axis=1),
        root_quat=yaw.as_quat(scalar_first=True),
        joint_pos=0.3 * np.sin(t[:, None] * 4 + np.arange(dof)[None]),
        joint_names=G1_JOINT_NAMES_29 if dof == 29 else G1_JOINT_NAMES_23,
    )


def assert_same(a: RobotMotion, b: RobotMotion, atol: float = 1e-7) -> None:
    assert a.num_frames == b.num_frames and a.joint_names == b.joint_names and a.fps == b.fps
    np.testing.assert_allclose(a.root_pos, b.root_pos, atol=atol)
    np.testing.assert_allclose(a.joint_pos, b.joint_pos, atol=atol)
    dots = np.abs(np.sum(a.root_quat * b.root_quat, axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=atol)


# ---------------------------------------------------------------------- reference files


def test_kimodo_csv_wxyz():
    path = reference_file(KIMODO)
    with pytest.raises(MotionFormatError, match=r"kimodo_walk_29dof_wxyz.csv.*frame rate.*fps="):
        load_robot_motion(path)
    motion = load_robot_motion(path, fps=30, quat_order="wxyz")
    assert motion.num_frames == 150 and motion.num_dof == 29 and motion.joint_names == G1_JOINT_NAMES_29
    assert motion.source_format == "csv" and np.all(upright(motion) > 0.9)
    assert 0.6 < motion.root_pos[:, 2].mean() < 0.9
    with pytest.warns(UserWarning, match="pass quat_order='wxyz'"):
        load_robot_motion(path, fps=30)  # the Unitree default order (xyzw) is wrong for this file


def test_gmr_bad_first_frame_is_dropped_with_a_warning():
    path = reference_file(GMR_BAD)
    with pytest.warns(MotionRepairWarning, match=r"gmr_walk_29dof_badframe0.pkl.*teleports.*dropped frames 0\b"):
        motion = load_robot_motion(path)
    assert motion.num_frames == 169 and motion.num_dof == 29 and abs(motion.fps - 29.8777) < 1e-3
    speeds = np.linalg.norm(np.diff(motion.root_pos, axis=0), axis=-1) * motion.fps
    assert speeds.max() < 3.0 and np.all(upright(motion) > 0.8)
    with pytest.raises(MotionFormatError, match=r"gmr_walk_29dof_badframe0.pkl.*frames 0 are bad.*repair=True"):
        load_robot_motion(path, repair=False)


def test_gmr_23dof():
    motion = load_robot_motion(reference_file(GMR_23))
    assert motion.num_frames == 222 and motion.num_dof == 23 and motion.joint_names == G1_JOINT_NAMES_23
    assert motion.source_format == "gmr" and np.all(upright(motion) > 0.8)


def test_asap_joblib_pickle():
    path = reference_file(ASAP)
    motion = load_robot_motion(path)
    assert motion.num_frames == 152 and motion.num_dof == 23 and motion.fps == 30.0
    assert motion.source_format == "asap" and np.all(upright(motion) > 0.8)
    np.testing.assert_allclose(motion.root_quat[0], [0.97412104, -0.0041245, 0.10842548, -0.19828036], atol=1e-6)  # xyzw -> wxyz
    clips = load_robot_clips(path)
    assert len(clips) == 1 and next(iter(clips.values())).num_frames == 152
    assert_same(load_robot_motion(path, clip=0), motion)
    with pytest.raises(MotionFormatError, match="no clip named 'nope'"):
        load_robot_motion(path, clip="nope")


# ---------------------------------------------------------------------- writers and round trips


@pytest.mark.parametrize("dof", [23, 29])
@pytest.mark.parametrize("suffix,quat_order", [(".csv", "xyzw"), (".csv", "wxyz"), (".npz", "xyzw")])
def test_round_trips(tmp_path, dof, suffix, quat_order):
    motion = synthetic_motion(dof=dof)
    path = tmp_path / f"clip{suffix}"
    save_robot_motion(motion, path, quat_order=quat_order)
    loaded = load_robot_motion(path, fps=30 if suffix == ".csv" else None, quat_order=quat_order)
    assert_same(loaded, motion, atol=1e-7)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left behind


def test_gmr_pickle_layout(tmp_path):
    motion = synthetic_motion()
    data = {"fps": 30.0, "root_pos": motion.root_pos, "root_rot": motion.root_quat[:, [1, 2, 3, 0]],
            "dof_pos": motion.joint_pos, "local_body_pos": None, "link_body_list": ["pelvis"]}
    with open(tmp_path / "gmr.pkl", "wb") as f:
        pickle.dump(data, f)
    assert_same(load_robot_motion(tmp_path / "gmr.pkl"), motion)


def test_beyondmimic_npz_and_joint_orders(tmp_path):
    motion = synthetic_motion()
    num = motion.num_frames
    body_pos = np.concatenate([motion.root_pos[:, None], np.zeros((num, 2, 3))], axis=1)
    body_quat = np.concatenate([motion.root_quat[:, None], np.tile([1.0, 0, 0, 0], (num, 2, 1))], axis=1)
    common = dict(fps=np.array([30]), joint_vel=np.zeros((num, 29)), body_pos_w=body_pos, body_quat_w=body_quat,
                  body_lin_vel_w=np.zeros((num, 3, 3)), body_ang_vel_w=np.zeros((num, 3, 3)))
    np.savez(tmp_path / "mjlab.npz", joint_pos=motion.joint_pos, **common)
    assert_same(load_robot_motion(tmp_path / "mjlab.npz"), motion)
    isaac_columns = [G1_JOINT_NAMES_29.index(n) for n in G1_ISAACLAB_JOINT_NAMES_29]
    np.savez(tmp_path / "isaaclab.npz", joint_pos=motion.joint_pos[:, isaac_columns], **common)
    loaded = load_robot_motion(tmp_path / "isaaclab.npz", joint_order="isaaclab")
    assert loaded.source_format == "beyondmimic"
    assert_same(loaded, motion)


def test_resample(tmp_path):
    motion = synthetic_motion(num=31)
    fast = motion.resample(50)
    assert fast.num_frames == 51 and fast.fps == 50
    np.testing.assert_allclose(fast.root_pos[::5], motion.root_pos[::3], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(fast.root_quat, axis=-1), 1.0, atol=1e-12)


# ---------------------------------------------------------------------- bad input


def _write_csv(path, table, header: str | None = None):
    lines = ([header] if header else []) + [",".join(f"{v:.9g}" for v in row) for row in table]
    path.write_text("\n".join(lines) + "\n")


def _table(motion: RobotMotion) -> np.ndarray:
    return np.concatenate([motion.root_pos, motion.root_quat[:, [1, 2, 3, 0]], motion.joint_pos], axis=1)


def test_csv_bad_columns_header_and_text(tmp_path):
    motion = synthetic_motion()
    _write_csv(tmp_path / "wide.csv", np.concatenate([_table(motion), np.zeros((motion.num_frames, 2))], axis=1))
    with pytest.raises(MotionFormatError, match=r"wide.csv.*31 joint values per frame; no robot has that many"):
        load_robot_motion(tmp_path / "wide.csv", fps=30)
    _write_csv(tmp_path / "header.csv", _table(motion), header="x,y,z,qx,qy,qz,qw," + ",".join(G1_JOINT_NAMES_29))
    assert_same(load_robot_motion(tmp_path / "header.csv", fps=30), motion)
    (tmp_path / "words.csv").write_text("1,2,3\nfour,5,6\n")
    with pytest.raises(MotionFormatError, match=r"words.csv.*cannot be parsed"):
        load_robot_motion(tmp_path / "words.csv", fps=30)
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(MotionFormatError, match=r"empty.csv.*no data rows"):
        load_robot_motion(tmp_path / "empty.csv", fps=30)
    with pytest.raises(MotionFormatError, match=r"missing.csv.*not found"):
        load_robot_motion(tmp_path / "missing.csv", fps=30)


def test_nan_rows_zero_quaternions_and_short_clips(tmp_path):
    motion = synthetic_motion()
    table = _table(motion)
    table[10, 12] = np.nan
    table[20, 3:7] = 0.0  # a zero quaternion is no rotation at all
    _write_csv(tmp_path / "holes.csv", table)
    with pytest.warns(MotionRepairWarning, match=r"holes.csv.*2 with NaN/Inf.*interpolated frames 10, 20"):
        loaded = load_robot_motion(tmp_path / "holes.csv", fps=30)
    assert loaded.num_frames == 30 and np.all(np.isfinite(loaded.joint_pos))
    np.testing.assert_allclose(loaded.root_quat[20], motion.root_quat[20], atol=1e-3)
    _write_csv(tmp_path / "short.csv", _table(motion)[:2])
    with pytest.raises(MotionFormatError, match=r"short.csv.*2 frame\(s\)"):
        load_robot_motion(tmp_path / "short.csv", fps=30)


def test_pickles_and_npz_with_missing_or_odd_content(tmp_path):
    motion = synthetic_motion()
    with open(tmp_path / "nodof.pkl", "wb") as f:
        pickle.dump({"fps": 30, "root_pos": motion.root_pos, "root_rot": motion.root_quat}, f)
    with pytest.raises(MotionFormatError, match=r"nodof.pkl.*does not look like"):
        load_robot_motion(tmp_path / "nodof.pkl")
    with pytest.raises(MotionFormatError, match=r"nodof.pkl.*no 'dof_pos'"):
        load_robot_motion(tmp_path / "nodof.pkl", format="gmr")
    np.savez(tmp_path / "odd.npz", fps=30, root_pos=motion.root_pos, root_quat_wxyz=motion.root_quat, joint_pos=np.zeros((30, 25)))
    with pytest.raises(MotionFormatError, match=r"odd.npz.*25 joint values per frame; no robot has that many"):
        load_robot_motion(tmp_path / "odd.npz")
    np.savez(tmp_path / "bad_quat.npz", fps=30, root_pos=motion.root_pos, root_quat_wxyz=motion.root_quat[:, :3], joint_pos=motion.joint_pos)
    with pytest.raises(MotionFormatError, match=r"bad_quat.npz.*root quaternion has shape \(30, 3\)"):
        load_robot_motion(tmp_path / "bad_quat.npz")
    with open(tmp_path / "gmr_nofps.pkl", "wb") as f:
        pickle.dump({"root_pos": motion.root_pos, "root_rot": motion.root_quat, "dof_pos": motion.joint_pos}, f)
    with pytest.raises(MotionFormatError, match=r"gmr_nofps.pkl.*no frame rate.*fps="):
        load_robot_motion(tmp_path / "gmr_nofps.pkl")
    (tmp_path / "motion.txt").write_text("1,2,3")
    with pytest.raises(MotionFormatError, match=r"motion.txt.*extension"):
        load_robot_motion(tmp_path / "motion.txt")
    with pytest.raises(ValueError, match="output format"):
        save_robot_motion(motion, tmp_path / "out.bin")


def test_teleport_in_the_middle_is_interpolated(tmp_path):
    motion = synthetic_motion()
    pos = motion.root_pos.copy()
    pos[12] += [0.0, 2.0, 0.0]
    save_robot_motion(motion.replace(root_pos=pos), tmp_path / "jump.npz")
    with pytest.warns(MotionRepairWarning, match=r"jump.npz.*interpolated frames 12"):
        loaded = load_robot_motion(tmp_path / "jump.npz")
    np.testing.assert_allclose(loaded.root_pos[12], 0.5 * (pos[11] + pos[13]), atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_robot_motion(tmp_path / "jump.npz", max_root_speed=100.0)
