"""The sample motions in data/motions: loadable, grounded, upright, smooth, doing what their names say, and
reproducible from their script."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mimicjax.human import BodyModel, forward_motion, load_human_motion
from mimicjax.human.smpl import SMPL_JOINT_NAMES
from tests.conftest import PROJECT_ROOT

MOTIONS = PROJECT_ROOT / "data" / "motions"
NAMES = ("walk", "wave", "squat", "side_step", "turn", "bow")
STEPPING = ("walk", "side_step", "turn")
STILL_AT_BOTH_ENDS = ("walk", "side_step", "turn", "bow")  # (the wave ends mid-wave, the squat just short of standing)
J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


@pytest.fixture(scope="module")
def loaded():
    out = {}
    for name in NAMES:
        motion = load_human_motion(MOTIONS / f"{name}.npz", to_z_up=False)
        out[name] = (motion, forward_motion(BodyModel.skeleton_only(), motion)["joints"])
    return out


def test_files_are_small_smpl_npz_at_30fps_z_up(loaded):
    assert sum((MOTIONS / f"{n}.npz").stat().st_size for n in NAMES) < 320 * 1024
    for name, (motion, _) in loaded.items():
        assert motion.fps == 30.0 and motion.up_axis == "z" and motion.model_type == "smpl", name
        assert 2.5 <= motion.duration <= 8.0, name


@pytest.mark.parametrize("name", NAMES)
def test_feet_on_the_floor_and_pelvis_upright(loaded, name):
    motion, joints = loaded[name]
    lowest = joints[..., 2].min(axis=1)
    assert np.all(np.abs(lowest) < 0.05), name
    pelvis_up = Rotation.from_rotvec(motion.global_orient).apply([0.0, 1.0, 0.0])
    assert np.all(pelvis_up[:, 2] > 0.85), name  # within 32 degrees of upright (the bow tilts it 30)


def heading_degrees(motion) -> np.ndarray:
    """Where the pelvis faces (the SMPL body's +z) in the Z-up world, degrees from +x, unwrapped."""
    forward = Rotation.from_rotvec(motion.global_orient).apply([0.0, 0.0, 1.0])
    return np.degrees(np.unwrap(np.arctan2(forward[:, 1], forward[:, 0])))


def test_each_clip_does_what_its_name_says(loaded):
    j = {n: SMPL_JOINT_NAMES.index(n) for n in ("pelvis", "head", "right_wrist")}
    _, walk = loaded["walk"]
    assert walk[-1, j["pelvis"], 0] - walk[0, j["pelvis"], 0] > 1.5  # walks forward along +x
    _, wave = loaded["wave"]
    assert np.any(wave[:, j["right_wrist"], 2] > wave[:, j["head"], 2] + 0.1)  # hand raised above the head
    _, squat = loaded["squat"]
    head = squat[:, j["head"], 2]
    assert head.max() - head.min() > 0.3  # goes down and up
    _, side = loaded["side_step"]
    left = side[:, j["pelvis"], 1] - side[0, j["pelvis"], 1]
    assert left.max() > 0.35 and abs(left[-1]) < 0.01  # steps to its left (+y) and back
    assert np.ptp(side[:, j["pelvis"], 0]) < 0.01  # not forward or back
    turn, turn_joints = loaded["turn"]
    heading = heading_degrees(turn)
    assert heading.max() > 85.0 and abs(heading[-1]) < 1.0 and abs(heading[0]) < 1.0  # turns left 90 degrees and back
    assert np.linalg.norm(np.ptp(turn_joints[:, j["pelvis"], :2], axis=0)) < 0.05  # on the spot
    _, bow = loaded["bow"]
    head = bow[:, j["head"], 2]
    assert head[0] - head.min() > 0.15 and abs(head[-1] - head[0]) < 0.01  # bows and comes back up


@pytest.mark.parametrize("name", NAMES)
def test_pelvis_moves_smoothly_without_surges(loaded, name):
    """Plausible root motion: the earlier walk's pelvis surged back and forth at 3 m/s (100 m/s^2)."""
    motion, joints = loaded[name]
    velocity = np.diff(joints[:, J["pelvis"]], axis=0) * motion.fps
    acceleration = np.diff(velocity, axis=0) * motion.fps
    assert np.linalg.norm(velocity, axis=1).max() < 1.2 and np.linalg.norm(acceleration, axis=1).max() < 6.0, name
    if name == "walk":
        forward = velocity[:, 0]
        assert forward.min() > -0.01 and 0.5 < forward.max() < 0.6  # never backwards; cruises at 0.55 m/s


@pytest.mark.parametrize("name", STEPPING)
def test_planted_feet_do_not_skate(loaded, name):
    _, joints = loaded[name]
    floor = joints[..., 2].min(axis=1)
    for foot in ("left_foot", "right_foot"):
        height = joints[:, J[foot], 2] - floor
        planted = (height[:-1] < 0.005) & (height[1:] < 0.005)  # on the floor in two frames running
        slide = np.linalg.norm(np.diff(joints[:, J[foot], :2], axis=0), axis=1)[planted]
        assert planted.mean() > 0.4 and slide.max() < 0.002, (name, foot)


@pytest.mark.parametrize("name", STILL_AT_BOTH_ENDS)
def test_clip_starts_and_ends_standing_still(loaded, name):
    motion, joints = loaded[name]
    assert np.abs(joints[1] - joints[0]).max() < 1e-3 and np.abs(joints[-1] - joints[-2]).max() < 1e-3, name
    np.testing.assert_allclose(motion.body_pose[-1], motion.body_pose[0], atol=1e-3, err_msg=name)  # the same stance


def test_script_reproduces_the_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_motions", PROJECT_ROOT / "data" / "make_sample_motions.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = script.make_all(tmp_path)
    for name, path in made.items():
        fresh, shipped = np.load(path), np.load(MOTIONS / f"{name}.npz")
        for key in ("poses", "trans", "betas", "mocap_framerate"):
            np.testing.assert_allclose(fresh[key], shipped[key], atol=1e-5, err_msg=f"{name}:{key}")
