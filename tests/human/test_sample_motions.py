"""The sample motions in data/motions: loadable, grounded, upright, and reproducible from their script."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mimicjax.human import BodyModel, forward_motion, load_human_motion
from mimicjax.human.smpl import SMPL_JOINT_NAMES
from tests.conftest import PROJECT_ROOT

MOTIONS = PROJECT_ROOT / "data" / "motions"
NAMES = ("walk", "wave", "squat")


@pytest.fixture(scope="module")
def loaded():
    out = {}
    for name in NAMES:
        motion = load_human_motion(MOTIONS / f"{name}.npz", to_z_up=False)
        out[name] = (motion, forward_motion(BodyModel.skeleton_only(), motion)["joints"])
    return out


def test_files_are_small_smpl_npz_at_30fps_z_up(loaded):
    assert sum((MOTIONS / f"{n}.npz").stat().st_size for n in NAMES) < 200 * 1024
    for name, (motion, _) in loaded.items():
        assert motion.fps == 30.0 and motion.up_axis == "z" and motion.model_type == "smpl", name
        assert 2.5 <= motion.duration <= 5.0, name


@pytest.mark.parametrize("name", NAMES)
def test_feet_on_the_floor_and_pelvis_upright(loaded, name):
    motion, joints = loaded[name]
    lowest = joints[..., 2].min(axis=1)
    assert np.all(np.abs(lowest) < 0.05), name
    pelvis_up = Rotation.from_rotvec(motion.global_orient).apply([0.0, 1.0, 0.0])
    assert np.all(pelvis_up[:, 2] > 0.9), name


def test_each_clip_does_what_its_name_says(loaded):
    j = {n: SMPL_JOINT_NAMES.index(n) for n in ("pelvis", "head", "right_wrist")}
    _, walk = loaded["walk"]
    assert walk[-1, j["pelvis"], 0] - walk[0, j["pelvis"], 0] > 1.0  # walks forward along +x
    _, wave = loaded["wave"]
    assert np.any(wave[:, j["right_wrist"], 2] > wave[:, j["head"], 2] + 0.1)  # hand raised above the head
    _, squat = loaded["squat"]
    head = squat[:, j["head"], 2]
    assert head.max() - head.min() > 0.3  # goes down and up


def test_script_reproduces_the_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_motions", PROJECT_ROOT / "data" / "make_sample_motions.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = script.make_all(tmp_path)
    for name, path in made.items():
        fresh, shipped = np.load(path), np.load(MOTIONS / f"{name}.npz")
        for key in ("poses", "trans", "betas", "mocap_framerate"):
            np.testing.assert_allclose(fresh[key], shipped[key], atol=1e-5, err_msg=f"{name}:{key}")
