"""Motion files no human motion could be are refused at read time, naming the file and the fix; a bad file
among good ones is skipped by `mimicjax retarget` and the good clips are kept."""

from __future__ import annotations

import numpy as np
import pytest

from mimicjax import cli
from mimicjax.human import load_human_motion
from mimicjax.motion.validate import MotionFormatError
from tests.conftest import PROJECT_ROOT

WAVE = PROJECT_ROOT / "data" / "motions" / "wave.npz"


def amass_copy(tmp_path, name, poses_scale=1.0, trans_scale=1.0, fps=None):
    data = dict(np.load(WAVE))
    data["poses"] = data["poses"] * poses_scale
    data["trans"] = data["trans"] * trans_scale
    if fps is not None:
        data["mocap_framerate"] = np.array(fps)
    path = tmp_path / name
    np.savez(path, **data)
    return path


@pytest.mark.parametrize("kwargs, message", [
    ({"fps": 0.01}, r"frame rate 0.01 Hz is outside 1-1000 Hz.*--fps"),
    ({"fps": 5000.0}, r"frame rate 5000 Hz is outside"),
    ({"poses_scale": 180 / np.pi}, r"not a human pose.*look like degrees"),
    ({"poses_scale": 1e30}, r"not a human pose.*not axis-angle radians"),
    ({"trans_scale": 1e6}, r"root translation reaches.*metres"),
])
def test_implausible_motion_is_refused_naming_the_file(tmp_path, kwargs, message):
    path = amass_copy(tmp_path, "bad.npz", **kwargs)
    with pytest.raises(MotionFormatError, match=rf"bad.npz.*{message}"):
        load_human_motion(path)


def test_the_sample_clips_are_plausible():
    for name in ("walk", "wave", "squat", "side_step", "turn", "bow"):
        load_human_motion(PROJECT_ROOT / "data" / "motions" / f"{name}.npz")


def test_retarget_skips_the_bad_file_and_keeps_the_good_clips(tmp_path, capsys):
    bad = amass_copy(tmp_path, "huge.npz", poses_scale=1e30)
    out = tmp_path / "lib.npz"
    status = cli.main(["retarget", str(WAVE), str(bad), "--robot", "g1_23dof", "--steps", "5", "--out", str(out)])
    assert status == 0 and out.is_file()
    err = capsys.readouterr().err
    assert "skipping" in err and "huge.npz" in err and "not a human pose" in err
    from mimicjax.motion.library import load_library

    assert load_library(out).num_clips == 1


@pytest.mark.parametrize("damage", ["bit flips", "truncated", "nan"])
def test_a_damaged_motion_library_is_one_clear_line(tmp_path, capsys, damage):
    from mimicjax.motion.library import load_library, save_library

    library = PROJECT_ROOT / "data" / "motions" / "g1_23dof_samples.npz"
    path = tmp_path / "damaged.npz"
    data = bytearray(library.read_bytes())
    if damage == "bit flips":
        data[2000:2100] = bytes(b ^ 0xFF for b in data[2000:2100])
        path.write_bytes(bytes(data))
    elif damage == "truncated":
        path.write_bytes(bytes(data[: len(data) // 3]))
    else:
        lib = load_library(library)
        save_library(lib.replace(root_pos=lib.root_pos.at[5, 0].set(np.nan)), path)
    assert cli.main(["motions", "info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "damaged.npz" in err and "rebuild" in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("poses, message", [
    (np.zeros((0, 156)), r"the arrays \['poses', 'trans'\] hold no frames"),
    (np.full((5, 156), "a"), r"the arrays \['poses'\] hold text, not numbers"),
])
def test_empty_or_text_arrays_are_named_in_the_users_words(tmp_path, poses, message):
    path = tmp_path / "odd.npz"
    np.savez(path, poses=poses, trans=np.zeros((len(poses), 3)), betas=np.zeros(10), mocap_framerate=30.0)
    with pytest.raises(MotionFormatError, match=rf"odd.npz: {message}"):
        load_human_motion(path)
