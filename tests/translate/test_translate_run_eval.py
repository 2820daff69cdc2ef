"""`translate run` (human video -> H2Rep -> robot video) and `translate eval` (held-out clips, fine-tuned vs
untuned) end to end at tiny size, on the rendered dataset with a coloured gripper; and their errors."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from mimicjax import cli
from mimicjax.translate import finetune as ft
from tests.translate.conftest import FAST_COMPILE
from tests.translate.test_finetune import CONFIG

CYAN = (0.05, 0.8, 0.85)
SIZE = {"width": 64, "height": 48, "frames": 12, "fps": 10.0, "supersample": 1, "progress": False}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Five robot clips with a cyan gripper and their H2Rep videos, and one human stand-in clip."""
    from mimicjax.translate.h2rep.dataset import make_dataset
    from mimicjax.translate.h2rep.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("h2r_eval") / "data"
    make_dataset(root, 5, gripper_rgb=CYAN, **SIZE)
    make_dataset(root, 1, human=True, **SIZE)
    prepare_dataset(root, "robot")
    return root


@pytest.fixture(scope="module")
def run_dir(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("h2r_eval_run")
    config = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train, steps=2, sample_every=0))
    ft.finetune(config, run_dir, dataset, compiler_options=FAST_COMPILE, show_progress=False)
    return run_dir


def test_the_gripper_colour_is_rendered_and_found_where_the_cue_is(dataset):
    from mimicjax.translate.evaluate import clip_cue
    from mimicjax.translate.h2rep.scene import gripper_colour
    from mimicjax.translate.metrics import cue_following, locate_colour
    from mimicjax.translate.translator import Grid
    from mimicjax.video import read_video

    clip = next(p for p in sorted(dataset.iterdir()) if (p / "ee_pose.npz").is_file() and not p.name.startswith("human"))
    assert json.loads((clip / "meta.json").read_text())["gripper_rgb"] == list(CYAN)
    frames, _ = read_video(clip / "video.mp4")
    track, rgb = clip_cue(clip, Grid(64, 48, 12, 10.0))  # the clip's own grid
    scores = cue_following(track.pixels, track.visible, locate_colour(frames, rgb))
    assert scores["found"] == 1.0 and scores["error_px"] < 6  # the marker's centre sits a few px from the fingertips
    assert clip_cue(dataset / "human_pick_000", Grid(64, 48, 12, 10.0)) is None  # no gripper to colour
    assert gripper_colour("cyan") == CYAN and gripper_colour("1,0,0.5") == (1.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="R,G,B in"):
        gripper_colour("blue")


def test_eval_scores_the_fine_tuned_and_the_untuned_model(run_dir, dataset, tmp_path, capsys, monkeypatch):
    from mimicjax.translate import evaluate
    from mimicjax.translate.finetune_data import split_clips
    from mimicjax.video import read_video

    real_evaluate = evaluate.evaluate_run
    monkeypatch.setattr(evaluate, "evaluate_run", lambda *a, **k: real_evaluate(*a, **k, compiler_options=FAST_COMPILE))
    out = tmp_path / "eval.json"
    assert cli.main(["translate", "eval", "--run-dir", str(run_dir), "--json", str(out), "--steps", "2", "--clips", "1",
                     "--videos", str(tmp_path / "videos")]) == 0
    report = json.loads(out.read_text())
    robot = [p.name for p in dataset.iterdir() if (p / "h2rep.mp4").is_file()]
    held_out = split_clips(robot, CONFIG.data.held_out_fraction, CONFIG.data.split_seed)[1]
    assert report["clips"] == held_out[:1] and report["dataset"] == str(dataset.absolute())
    assert set(report["models"]) == {"finetuned", "untuned", "vae_reconstruction", "real_video"}
    for name in ("finetuned", "untuned"):
        overall = report["models"][name]["overall"]
        assert {"psnr", "ssim", "psnr_vs_vae_reconstruction", "cue"} <= set(overall)
        assert overall["psnr"] > 0 and -1 <= overall["ssim"] <= 1 and overall["cue"]["clips"] == 1
    assert report["models"]["real_video"]["overall"]["cue"]["found"] == 1.0
    video, _ = read_video(tmp_path / "videos" / f"{held_out[0]}.mp4")
    assert video.shape == (CONFIG.data.frames, 32, 4 * 32, 3)  # real | H2Rep | untuned | fine-tuned
    printed = capsys.readouterr().out
    assert "overall" in printed and "finetuned" in printed and "cue px" in printed


def fails(argv: list[str], capsys, message: str) -> None:
    """The command exits 2 with an error line holding `message`."""
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_eval_names_what_is_missing(run_dir, tmp_path, capsys):
    fails(["translate", "eval", "--run-dir", str(tmp_path), "--json", str(tmp_path / "x.json")], capsys, "holds no checkpoint")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / ft.LORA_FILE).unlink()
    fails(["translate", "eval", "--run-dir", str(copy), "--json", str(tmp_path / "x.json")], capsys, "lora.safetensors is missing")


def human_arguments(dataset) -> list[str]:
    clip = dataset / "human_pick_000"
    return [str(clip / "video.mp4"), "--masks", str(clip / "masks"), "--hands", str(clip / "hand_keypoints.npz"),
            "--camera", str(clip / "camera.json")]


def test_run_turns_the_human_stand_in_into_a_robot_video(run_dir, dataset, tmp_path, monkeypatch):
    from mimicjax.translate import translator
    from mimicjax.video import read_video

    real_load = translator.load_translator
    monkeypatch.setattr(translator, "load_translator", lambda *a, **k: real_load(*a, **k, compiler_options=FAST_COMPILE))
    out = tmp_path / "robot.mp4"
    assert cli.main(["translate", "run", *human_arguments(dataset), "--ckpt", str(run_dir), "--out", str(out),
                     "--steps", "2"]) == 0
    robot, fps = read_video(out)
    both, _ = read_video(tmp_path / "robot_side_by_side.mp4")
    assert robot.shape == (CONFIG.data.frames, 32, 32, 3) and fps == pytest.approx(CONFIG.data.fps)
    assert both.shape == (CONFIG.data.frames, 32, 3 * 32, 3)  # input | H2Rep | output


def test_run_names_what_is_missing(run_dir, dataset, tmp_path, capsys):
    from mimicjax.translate.wan.configs import TINY
    from mimicjax.translate.wan.convert import save_checkpoint
    from mimicjax.translate.wan.transformer import init_params

    args = human_arguments(dataset)
    out = ["--out", str(tmp_path / "robot.mp4")]
    fails(["translate", "run", *args[:3], "--ckpt", str(run_dir), *out], capsys, "--hands HANDS")
    fails(["translate", "run", args[0], *args[3:], "--ckpt", str(run_dir), *out], capsys, "--masks MASKS")
    fails(["translate", "run", *args, "--ckpt", str(tmp_path / "nothing"), *out], capsys, "no checkpoint or run folder")
    ckpt = save_checkpoint(tmp_path / "base", TINY, init_params(TINY, rng=0))
    fails(["translate", "run", *args, "--ckpt", str(ckpt), *out], capsys, "give its VAE with --vae")
    fails(["translate", "run", *args, "--ckpt", str(ckpt), "--lora", str(tmp_path / "none.safetensors"), *out], capsys, "no adapter file")
    assert not (tmp_path / "robot.mp4").exists()
