"""`mimicjax eval` on a teacher run and on a student run: JSON results, TensorBoard scalars, random
starts, the whole-clip video with its reference ghost, and the demo's evaluation of a shipped student.

MJX programs dominate the cost: the teacher's evaluation without and with random starts, the student's
evaluation and (with OpenGL) its whole-clip video rollout. The runs come from tests/eval/tiny_runs.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest

from mimicjax import robots
from tests.eval.tiny_runs import eval_main

RANDOM_STARTS = 2  # per clip, in the student's (shipped-policy) evaluation
VIDEO_STRIDE = 40  # the student's video shows every 40th control step (a few frames per clip)
VIDEO_SIZE = (48, 32)


def sample_clips(robot: str = "g1_23dof") -> int:
    from mimicjax.motion.library import load_library
    from mimicjax.train.loop import sample_library_path

    return load_library(sample_library_path(robot)).num_clips


def check_results(result: dict, policy: str, episodes: int, random_starts: int = 0) -> None:
    num_clips = 2 * sample_clips()  # the tiny runs mirror the sample clips
    assert result["policy"] == policy and result["episodes_per_clip"] == episodes
    assert result["random_starts_per_clip"] == random_starts
    overall = result["overall"]
    assert overall["episodes"] == (episodes + random_starts) * num_clips and len(result["clips"]) == num_clips
    assert result["from_start"]["episodes"] == episodes * num_clips
    assert (result["random_starts"] or {"episodes": 0})["episodes"] == random_starts * num_clips
    for summary in [overall] + result["clips"]:
        assert 0.0 <= summary["success_rate"] <= 1.0
        for name in ("keypoint_error", "keypoint_error_world", "keypoint_error_upper", "keypoint_error_lower"):
            assert math.isfinite(summary[name]["mean"]) and 0.0 <= summary[name]["mean"] <= summary[name]["max"] < 5.0
        assert 0.0 < summary["mean_episode_seconds"] <= 0.3 + 1e-6  # the tiny runs' episode limit
    assert overall["failures"] == sum(clip["failures"] for clip in result["clips"])
    assert len(result["per_episode"]) == overall["episodes"]
    # Top-level figures (read by scripts and `mimicjax plot`): all episodes together.
    assert result["success_rate"] == overall["success_rate"] and result["keypoint_error"] == overall["keypoint_error"]["mean"]
    assert result["success_rate_from_start"] == result["from_start"]["success_rate"]
    assert (result["success_rate_random_starts"] is None) == (random_starts == 0)


def flat(summary: dict, prefix: str = "") -> dict:
    """{"a/b": number} of a nested summary (pytest.approx compares flat dicts)."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.fixture(scope="module")
def teacher_eval(teacher_dir):
    """The teacher evaluated as before random starts existed (from the start only), into its TensorBoard."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert eval_main(["--run-dir", str(teacher_dir), "--episodes", "2", "--random-starts", "0"]) == 0
    path = teacher_dir / "eval" / "checkpoint_0.json"  # the default place
    return json.loads(path.read_text()), out.getvalue()


@pytest.fixture(scope="module")
def shipped_student(student, tmp_path_factory):
    """The demo's first step on the tiny student, exported (`mimicjax export`) to where the demo looks for
    a shipped student.

    Returns (demo output folder, its printed output); the JSON and (with OpenGL) the video are in it.
    """
    from mimicjax import cli, demo

    root = tmp_path_factory.mktemp("shipped")
    assert cli.main(["export", "--run-dir", str(student.run_dir), "--out", str(root / "policies" / "g1_tiny_student")]) == 0
    out = root / "demo"
    printed = io.StringIO()
    width, height = VIDEO_SIZE
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(demo, "POLICIES_DIR", root / "policies")
        assert demo.shipped_policy_dir("student") == root / "policies" / "g1_tiny_student"
        status = demo.run_shipped_policy(out, video_size=(width, height), video_stride=VIDEO_STRIDE,
                                         extra_args=["--random-starts", str(RANDOM_STARTS)])
    assert status == 0, printed.getvalue()
    return out, printed.getvalue()


def test_eval_teacher_run_writes_json_and_tensorboard(teacher_dir, teacher_eval):
    from mimicjax.train.run_log import read_event_scalars

    result, output = teacher_eval
    assert "teacher of" in output and "overall" in output and "walk:mirrored" in output
    assert "random" not in output  # one row per clip, as before random starts
    check_results(result, "teacher", episodes=2)
    assert result["checkpoint"] == 0 and result["rollout_steps"] == 15 and result["random_starts"] is None
    events = read_event_scalars(teacher_dir)
    assert [step for step, _ in events["eval/success_rate"]] == [0]
    assert "eval/clip/walk_mirrored/keypoint_error/mean" in events


def test_random_starts_add_episodes_and_keep_the_from_start_results(teacher_dir, teacher_eval, tmp_path, capsys):
    """One from-start and one random-start episode per clip: as many envs as the evaluation without random
    starts (two from-start episodes per clip), so the MJX program is the same one (compilation cache)."""
    from mimicjax.eval.rollout import random_start_times
    from mimicjax.train.runs import read_run_config
    from mimicjax.train.loop import load_motions

    old, _ = teacher_eval
    assert eval_main(["--run-dir", str(teacher_dir), "--episodes", "1", "--random-starts", "1", "--seed", "5",
                      "--json", str(tmp_path / "random.json"), "--no-log"]) == 0
    output = capsys.readouterr().out
    assert "1 random starts per clip" in output and "random" in output and "start" in output
    result = json.loads((tmp_path / "random.json").read_text())
    check_results(result, "teacher", episodes=1, random_starts=1)
    assert result["rollout_steps"] == old["rollout_steps"]

    # From the start: the episodes of the evaluation without random starts (whose two episodes per clip
    # are the same episode: no goal noise), to float32 rounding (the rollouts differ in their other envs).
    counts = ("episodes", "failures", "steps", "termination_causes")
    close = dict(rel=1e-4, abs=1e-4)
    rates = lambda summary: {k: v for k, v in flat(summary).items() if k.split("/")[0] not in counts}  # noqa: E731
    assert rates(result["from_start"]) == pytest.approx(rates(old["overall"]), **close)
    for clip, old_clip in zip(result["clips"], old["clips"]):
        assert rates(clip["from_start"]) == pytest.approx(rates(old_clip["from_start"]), **close)
    new_episodes = [(e["clip"], e["success"], round(e["seconds"], 6)) for e in result["per_episode"] if e["from_start"]]
    assert new_episodes == [(e["clip"], e["success"], round(e["seconds"], 6)) for e in old["per_episode"][::2]]

    # Random starts: seeded, inside [0, duration - 1 s].
    library = load_motions(read_run_config(teacher_dir))
    random = [e for e in result["per_episode"] if not e["from_start"]]
    starts = np.array([e["start_time"] for e in random])
    np.testing.assert_allclose(starts, random_start_times(library, 1, seed=5))
    durations = np.asarray(library.clip_duration)[[e["clip"] for e in random]]
    assert np.all(starts >= 0) and np.all(starts <= np.maximum(durations - 1.0, 0) + 1e-6) and np.ptp(starts) > 0
    assert result["overall"]["success_rate"] == pytest.approx(
        np.mean([e["success"] for e in result["per_episode"]]))  # the combined figure


def test_demo_evaluates_the_shipped_student(student, shipped_student):
    out, printed = shipped_student
    result = json.loads((out / "shipped_student_eval.json").read_text())
    check_results(result, "student", episodes=1, random_starts=RANDOM_STARTS)
    assert result["checkpoint"] == 2 and [clip["name"] for clip in result["clips"]][:3] == ["walk", "wave", "squat"]
    assert "[shipped]" in printed and "student of" in printed and "random" in printed
    assert not (student.run_dir / "eval").exists() and not (out.parent / "policies" / "g1_tiny_student" / "eval").exists()
    assert not list(out.glob(".*"))  # no temporary files left behind
    # The interactive replay needs no OpenGL: the same whole episodes as the video, frame for frame.
    from tests.eval.test_html import decode_page

    assert result["html"] == str(out / "shipped_student.html")
    replay = decode_page((out / "shipped_student.html").read_text())
    assert len(replay["states"]["x"]) == sum(clip["frames"] for clip in result["video_clips"])


def test_demo_without_a_shipped_policy_says_so_and_goes_on(tmp_path, monkeypatch, capsys):
    from mimicjax import demo

    monkeypatch.setattr(demo, "POLICIES_DIR", tmp_path / "policies")
    assert demo.shipped_policy_dir("student") is None and demo.run_shipped_policy(tmp_path / "demo") is None
    (tmp_path / "policies" / "g1_student" / "checkpoints").mkdir(parents=True)  # no checkpoint in it
    (tmp_path / "policies" / "g1_teacher" / "checkpoints" / "3" / "config").mkdir(parents=True)  # not a student
    assert demo.shipped_policy_dir("student") is None and demo.shipped_policy_dir("teacher") is not None
    assert demo.run_shipped_policy(tmp_path / "demo") is None
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("no shipped student policy" in line for line in lines)
    assert not (tmp_path / "demo").exists()


def gl_or_skip():
    from mimicjax.eval.render import gl_unavailable

    reason = gl_unavailable()
    if reason is not None:
        pytest.skip(f"no offscreen OpenGL backend: {reason}")


def test_video_shows_every_whole_clip_even_after_a_termination(shipped_student):
    import imageio.v2 as imageio

    from mimicjax.motion.library import load_library
    from mimicjax.train.loop import sample_library_path

    gl_or_skip()
    out, _ = shipped_student
    result = json.loads((out / "shipped_student_eval.json").read_text())
    video = out / "shipped_student.mp4"
    assert result["video"] == str(video) and video.is_file()
    samples = load_library(sample_library_path("g1_23dof"))
    rendered = result["video_clips"]
    assert [c["name"] for c in rendered] == list(samples.meta.clip_names)  # the sample clips, not their mirrors
    dt = result["control_dt"]
    for clip in rendered:  # each clip whole, although the evaluation's episodes end after 0.3 s at most
        duration = float(samples.clip_duration[clip["clip"]])
        assert clip["steps"] == math.ceil((duration - 1e-4) / dt - 1e-6) and clip["seconds"] > 0.3
        assert clip["frames"] == math.ceil(clip["steps"] / VIDEO_STRIDE)
    failed = [clip for clip in rendered if not clip["success_in_eval"]]
    assert all(result["clips"][c["clip"]]["from_start"]["failures"] == 1 for c in failed)
    frames = [frame for frame in imageio.get_reader(str(video))]  # (its len() is unknown: inf)
    assert len(frames) == sum(clip["frames"] for clip in rendered)
    assert frames[0].shape == (VIDEO_SIZE[1], VIDEO_SIZE[0], 3) and np.std(frames[0]) > 5


def test_the_reference_ghost_is_drawn():
    from mimicjax.eval import render
    from mimicjax.motion.library import load_library
    from mimicjax.train.loop import sample_library_path

    gl_or_skip()
    library = load_library(sample_library_path("g1_23dof"))
    times = np.array([1.0])
    reference = render.reference_qpos(library, 0, times)
    robot = reference.copy()
    robot[:, 0] -= 0.4  # the robot half a step behind its reference
    keypoints = render.goal_keypoints(library, 0, times)
    with_ghost, without = (next(render.render_episode_frames(robots.get("g1_23dof"), [render.Segment(robot, ghost, keypoints)], 96, 64))
                           for ghost in (reference, None))
    changed = np.any(np.abs(with_ghost.astype(int) - without.astype(int)) > 30, axis=-1)
    assert changed.mean() > 0.01  # a visible figure more, not noise
    def greenness(image):
        image = image.astype(int)
        return (image[..., 1] - image[..., [0, 2]].max(axis=-1))[changed].mean()

    assert greenness(with_ghost) > greenness(without) + 5  # in the ghost's green


def test_eval_input_errors_are_clear(teacher_dir, tmp_path):
    from mimicjax.config import ConfigError

    with pytest.raises(ConfigError, match="holds no checkpoint"):
        eval_main(["--run-dir", str(tmp_path)])
    with pytest.raises(ConfigError, match="--video-clip 99"):
        eval_main(["--run-dir", str(teacher_dir), "--video", str(tmp_path / "v.mp4"), "--video-clip", "0,99"])
    with pytest.raises(ConfigError, match="--random-starts"):
        eval_main(["--run-dir", str(teacher_dir), "--random-starts", "-1"])
    with pytest.raises(SystemExit):
        eval_main(["--run-dir", str(teacher_dir), "--video-clip", "some"])
    with pytest.raises(FileNotFoundError, match="available"):
        eval_main(["--run-dir", str(teacher_dir), "--checkpoint", "7"])


def test_sim2sim_in_mujoco_c_agrees_with_eval_clip_by_clip(shipped_student, tmp_path, capsys):
    """The shipped (exported) student as ONNX, run by `mimicjax sim2sim` in MuJoCo's C engine with the NumPy
    observation builder: per clip from its start, the same outcome, length and keypoint error as
    `mimicjax eval` in MJX (the engines differ by solver details, hence the tolerances)."""
    pytest.importorskip("onnxruntime")
    from mimicjax import cli
    from mimicjax.train.loop import sample_library_path

    out, _ = shipped_student
    evaluated = json.loads((out / "shipped_student_eval.json").read_text())
    policy = tmp_path / "student.onnx"
    assert cli.main(["export", "--run-dir", str(out.parent / "policies" / "g1_tiny_student"), "--out", str(policy)]) == 0
    assert cli.main(["sim2sim", "--onnx", str(policy), "--motions", str(sample_library_path("g1_23dof")),
                     "--json", str(tmp_path / "sim2sim.json")]) == 0
    assert "in MuJoCo (C)" in capsys.readouterr().out
    result = json.loads((tmp_path / "sim2sim.json").read_text())
    assert len(result["clips"]) == len(result["per_episode"]) == sample_clips()
    assert result["overall"]["episodes"] == sample_clips() and result["success_rate"] == result["overall"]["success_rate"]
    for episode in result["per_episode"]:
        mjx = evaluated["clips"][episode["clip"]]["from_start"]
        assert episode["name"] == evaluated["clips"][episode["clip"]]["name"]
        assert episode["success"] == (mjx["success_rate"] == 1.0), episode
        assert episode["seconds"] == pytest.approx(mjx["mean_episode_seconds"], abs=0.041), episode
        assert episode["keypoint_error"]["mean"] == pytest.approx(mjx["keypoint_error"]["mean"], abs=0.01), episode
