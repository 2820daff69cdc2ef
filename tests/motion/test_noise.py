"""The artefacts of video-lifted motion: level 0 is the identity, levels are monotone in the measured
SMPL joint error, the same seed gives the same motion, and `mimicjax motions perturb` writes readable
files and a plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mimicjax import cli
from mimicjax.human import load_human_motion
from mimicjax.motion import noise
from tests.conftest import PROJECT_ROOT

WAVE = PROJECT_ROOT / "data" / "motions" / "wave.npz"
WALK = PROJECT_ROOT / "data" / "motions" / "walk.npz"


@pytest.fixture(scope="module")
def wave():
    return load_human_motion(WAVE).slice(0, 60)


@pytest.fixture(scope="module")
def walk():
    return load_human_motion(WALK).slice(0, 90)  # it travels, so trajectory artefacts show


@pytest.fixture(scope="module")
def table(walk):
    return noise.error_table([walk], seed=3)


@pytest.mark.parametrize("name", noise.ARTEFACT_NAMES)
def test_level_zero_is_the_identity(wave, name):
    assert noise.apply_artefact(wave, name, 0, seed=1) is wave


@pytest.mark.parametrize("name", noise.ARTEFACT_NAMES)
def test_each_level_perturbs_more_than_the_one_below(table, name):
    errors = table[name]["global"]
    assert errors[0] == 0.0 and all(b > a for a, b in zip(errors, errors[1:])), errors


def test_pose_artefacts_change_the_pose_and_trajectory_artefacts_only_the_trajectory(table):
    for name in ("jitter", "wobble", "flicker", "frame_timing"):
        assert table[name]["root_relative"][-1] > 0.002, name
    for name in ("root_drift", "depth_drift", "scale", "morphology"):
        assert table[name]["root_relative"][-1] < 1e-6 < table[name]["global"][-1], name


@pytest.mark.parametrize("name", noise.ARTEFACT_NAMES)
def test_the_same_seed_gives_the_same_motion_and_another_seed_another(walk, name):
    a, b = noise.apply_artefact(walk, name, 4, seed=7), noise.apply_artefact(walk, name, 4, seed=7)
    c = noise.apply_artefact(walk, name, 4, seed=8)
    for field in ("global_orient", "body_pose", "transl"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert any(not np.array_equal(getattr(a, f), getattr(c, f)) for f in ("global_orient", "body_pose", "transl"))
    assert a.num_frames == walk.num_frames and a.fps == walk.fps


def test_bad_levels_and_names_are_refused(wave):
    with pytest.raises(ValueError, match="outside 0..5"):
        noise.perturb(wave, 6)
    with pytest.raises(ValueError, match="unknown artefact"):
        noise.perturb(wave, 1, artefacts=("sparkle",))


def test_perturb_command_writes_motions_and_a_plot(tmp_path, capsys):
    out, plot = tmp_path / "noisy", tmp_path / "noise.png"
    assert cli.main(["motions", "perturb", str(WAVE), "--level", "3", "--seed", "2", "--out", str(out),
                     "--plot", str(plot)]) == 0
    written = load_human_motion(out / "wave.npz")
    clean = load_human_motion(WAVE)
    assert written.num_frames == clean.num_frames and not np.allclose(written.body_pose, clean.body_pose)
    assert plot.stat().st_size > 10_000 and set(json.loads(plot.with_suffix(".json").read_text())) == set(noise.ARTEFACT_NAMES)
    assert cli.main(["motions", "perturb", str(WAVE), "--level", "9", "--out", str(out)]) == 2
    assert "--level must be within 0..5" in capsys.readouterr().err
