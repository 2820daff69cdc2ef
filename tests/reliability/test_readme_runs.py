"""Every `mimicjax` command the README shows runs, in the README's order, from a clean checkout's layout.

Each command is run as written, with only size arguments appended (`TINY`: the last value of a repeated
flag wins, so `--set train.iterations=1` shrinks the README's run) and its placeholders (`DIR`, `CKPT`,
`POLICY`, ...) filled with tiny inputs. A command the README gains without an entry in `TINY` fails the
test, so a documented command cannot break, or go untested, unnoticed.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from mimicjax import cli
from tests.conftest import PROJECT_ROOT
from tests.reliability.test_readme_commands import COMMANDS

TRAIN = ["--set", "train.num_envs=2", "--set", "train.rollout_steps=4", "--set", "ppo.minibatches=2",
         "--set", "network.actor_hidden_sizes=(16,)", "--set", "network.critic_hidden_sizes=(16,)"]
DISTILL = ["--set", "distill.iterations=1", "--set", "distill.dagger.beta_decay_iterations=1",
           "--set", "distill.rollout_steps=4", "--set", "distill.dagger.minibatches=2",
           "--set", "distill.student_network.actor_hidden_sizes=(16,)"]

# (the command's leading words, a flag it must hold or None) -> what is appended to run it at tiny size.
TINY = {
    (("retarget",), None): ["--steps", "3"],
    (("motions", "info"), None): [],
    (("motions", "render"), None): ["--width", "64", "--height", "48"],
    (("motions", "perturb"), None): [],
    (("train",), "--resume"): [*TRAIN, "--set", "train.iterations=2"],
    (("train",), None): [*TRAIN, "--set", "train.iterations=1"],
    (("distill",), None): DISTILL,
    (("eval",), None): ["--random-starts", "1", "--video-stride", "50", "--video-width", "64", "--video-height", "48"],
    (("export",), None): [],
    (("sim2sim",), None): ["--clip", "1"],
    (("sweep",), None): ["--out", "runs/sweep", "--set", "train.iterations=1"],
    (("translate", "make-data"), None): ["--videos", "2", "--size", "64x48", "--frames", "4", "--supersample", "1"],
    (("translate", "finetune"), None): ["--set", "data.width=32", "--set", "data.height=32", "--set", "data.frames=1",
                                        "--set", "train.steps=2", "--set", "train.eval_every=1",
                                        "--set", "train.checkpoint_every=1", "--set", "train.sample_every=0"],
    (("translate", "prepare"), None): [],
    (("translate", "eval"), None): ["--steps", "1", "--clips", "1"],
    (("translate", "run"), None): ["--steps", "1"],
    (("translate", "fit-vae"), None): ["--set", "data.width=32", "--set", "data.height=32", "--set", "data.frames=1",
                                       "--steps", "1", "--crop", "8", "--crop-frames", "1"],
    (("bench", "h2rep"), None): ["--width", "64", "--height", "48", "--frames", "4", "--repeats", "1"],
    (("translate", "convert"), None): [],
    (("translate", "sample"), None): ["--steps", "1"],
    # One batch size for both sim commands, so the second loads the first's program from the cache.
    (("bench", "sim"), "--sweep"): ["--sweep", "2", "--steps", "2", "--chunk", "1", "--compile-cache"],
    (("bench", "sim"), None): ["--batch", "2", "--steps", "2", "--chunk", "1", "--compile-cache"],
    (("bench", "retarget"), None): ["--frames", "40", "--steps", "3", "--repeats", "1"],
    # The CI experiment instead of the GPU one: the same four programs, at a fraction of the compile time.
    (("bench", "train"), None): ["--config", "experiments/smoke.py", "--envs", "2", "--steps", "2", "--repeats", "1",
                                 "--compile-cache"],
    (("bench", "translate"), None): ["--configs", "tiny", "--repeats", "1", "--no-vae"],
    (("bench", "robustness"), None): ["--random-starts", "0", "--retarget-steps", "3"],
}


def tiny_arguments(argv: list[str]) -> list[str]:
    for (words, flag), extra in TINY.items():
        if tuple(argv[: len(words)]) == words and (flag is None or flag in argv):
            return extra
    pytest.fail(f"the README shows `mimicjax {' '.join(argv)}`, which has no tiny-size entry in TINY; add one")


def is_h2rep(argv: list[str]) -> bool:
    """The H2Rep commands, and the fine-tuning, evaluation and translation that use their dataset."""
    return argv[:2] in (["translate", "make-data"], ["translate", "prepare"], ["bench", "h2rep"], ["translate", "finetune"],
                        ["translate", "eval"], ["translate", "run"], ["translate", "fit-vae"])


def is_translate(argv: list[str]) -> bool:
    return argv[0] == "translate" and not is_h2rep(argv)


def test_every_readme_command_has_a_tiny_size():
    for argv in COMMANDS:
        tiny_arguments(argv)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A working folder laid out like a clean clone (data/ and experiments/ as the project has them)."""
    for folder in ("data", "experiments"):
        (tmp_path / folder).symlink_to(PROJECT_ROOT / folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fill(argv: list[str], placeholders: dict[tuple[str, str], str]) -> list[str]:
    """Placeholders are keyed by (the flag before them, the placeholder): `--vae DIR` and `--diffusers DIR`
    name different folders."""
    return [placeholders.get((flag, word), word) for flag, word in zip(["", *argv], argv)]


def run_in_order(commands: list[list[str]], placeholders: dict[tuple[str, str], str]) -> dict[str, float]:
    """Run each command with its tiny arguments; fail naming the first that does not exit 0."""
    seconds = {}
    for argv in commands:
        argv = fill(argv, placeholders) + tiny_arguments(argv)
        started = time.perf_counter()
        status = cli.main(argv)
        assert status == 0, f"`mimicjax {' '.join(argv)}` exited {status}"
        seconds[" ".join(argv[:2])] = time.perf_counter() - started
    return seconds


def test_the_readme_genmimic_and_benchmark_commands_run(checkout, capsys, record_property):
    from mimicjax.eval.render import gl_unavailable

    commands = [argv for argv in COMMANDS if not is_translate(argv) and not is_h2rep(argv)]
    if gl_unavailable() is not None:  # rendering is checked where OpenGL works; the rest runs everywhere
        commands = [argv for argv in commands if argv[:2] != ["motions", "render"]]
    seconds = run_in_order(commands, {("--run-dir", "POLICY"): "runs/g1_student"})
    record_property("seconds_per_command", {name: round(s, 1) for name, s in seconds.items()})  # --junitxml
    capsys.readouterr()
    for output in ("lib.npz", "csv", "noisy", "runs/g1", "runs/g1_student", "student.html", "eval.json",
                   "policies/g1_student/config.json", "student.onnx", "sim2sim.json", "runs/sweep", "out.json",
                   "sweep.json", "runs/robustness"):
        assert (checkout / output).exists(), f"no {output} after the README's commands"
    assert [r["batch"] for r in json.loads((checkout / "sweep.json").read_text())["sweep"]] == [2]
    assert json.loads((checkout / "eval.json").read_text())["policy"] == "student"


def test_the_readme_translate_commands_run(checkout, record_property):
    torch = pytest.importorskip("torch")
    import imageio.v2 as imageio
    from diffusers import AutoencoderKLWan

    from mimicjax.translate.wan.configs import TINY as TINY_WAN
    from tests.translate.conftest import make_reference

    make_reference(TINY_WAN).save_pretrained(checkout / "transformer")
    torch.manual_seed(0)
    AutoencoderKLWan(
        base_dim=8, z_dim=TINY_WAN.in_channels, dim_mult=[1, 2, 4, 4], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    ).save_pretrained(checkout / "vae")
    frames = np.random.default_rng(0).uniform(0, 255, (5, 32, 32, 3)).astype(np.uint8)
    imageio.mimsave(checkout / "h2rep.mp4", list(frames), fps=10)
    for name in ("emb", "empty"):
        np.save(checkout / f"{name}.npy", np.random.default_rng(1).standard_normal((3, TINY_WAN.text_dim)).astype(np.float32))
    commands = [argv for argv in COMMANDS if is_translate(argv)]
    assert [argv[1] for argv in commands] == ["convert", "sample"]
    seconds = run_in_order(commands, {("--diffusers", "DIR"): "transformer", ("--vae", "DIR"): "vae",
                                      ("--out", "CKPT"): "ckpt", ("--ckpt", "CKPT"): "ckpt"})
    record_property("seconds_per_command", {name: round(s, 1) for name, s in seconds.items()})
    assert (checkout / "robot.mp4").is_file()


def test_the_readme_h2rep_commands_run(checkout, record_property):
    commands = [argv for argv in COMMANDS if is_h2rep(argv)]
    assert [argv[:2] for argv in commands][0] == ["translate", "make-data"]
    seconds = run_in_order(commands[:1], {})
    clips = sorted((checkout / "h2rep_data").iterdir())
    robot = next(c for c in clips if (c / "ee_pose.npz").is_file() and not (c / "hand_keypoints.npz").is_file())
    human = next(c for c in clips if (c / "hand_keypoints.npz").is_file())
    seconds |= run_in_order(commands[1:], {
        ("--video", "ROBOT.mp4"): str(robot / "video.mp4"), ("--masks", "ARM_MASKS"): str(robot / "masks"),
        ("--poses", "POSES.npz"): str(robot / "ee_pose.npz"), ("--camera", "CAMERA.json"): str(robot / "camera.json"),
        ("--video", "HUMAN.mp4"): str(human / "video.mp4"), ("--masks", "PERSON_MASKS"): str(human / "masks"),
        ("--hands", "HANDS.npz"): str(human / "hand_keypoints.npz"), ("run", "HUMAN.mp4"): str(human / "video.mp4"),
    })
    record_property("seconds_per_command", {name: round(s, 1) for name, s in seconds.items()})
    for output in ("h2rep.mp4", "h2rep_human.mp4", "out.json", f"h2rep_data/{robot.name}/h2rep.mp4",
                   f"h2rep_data/{human.name}/h2rep.mp4", "runs/h2r_tiny/lora.safetensors", "eval.json", "robot.mp4",
                   "robot_side_by_side.mp4", "runs/h2r_vae/config.json"):
        assert (checkout / output).exists(), f"no {output} after the README's H2Rep commands"
    assert json.loads((checkout / "out.json").read_text())["quality"]["clips"] == 4  # two robot, two human
