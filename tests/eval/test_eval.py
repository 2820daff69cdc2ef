"""`mimicjax eval` on a teacher run and on a student run: JSON results, TensorBoard scalars, a video.

One evaluation rollout compile per policy; the runs come from tests/eval/tiny_runs.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.eval.tiny_runs import eval_main


def check_results(result: dict, policy: str, episodes: int, num_clips: int = 6) -> None:
    assert result["policy"] == policy and result["episodes_per_clip"] == episodes
    overall = result["overall"]
    assert overall["episodes"] == episodes * num_clips and len(result["clips"]) == num_clips
    for summary in [overall] + result["clips"]:
        assert 0.0 <= summary["success_rate"] <= 1.0
        for name in ("keypoint_error", "keypoint_error_world", "keypoint_error_upper", "keypoint_error_lower"):
            assert math.isfinite(summary[name]["mean"]) and 0.0 <= summary[name]["mean"] <= summary[name]["max"] < 5.0
        assert 0.0 < summary["mean_episode_seconds"] <= 0.3 + 1e-6  # the tiny runs' episode limit
    assert overall["failures"] == sum(clip["failures"] for clip in result["clips"])


@pytest.fixture(scope="module")
def student_eval(student, tmp_path_factory):
    """The student evaluated once, with a video (when OpenGL works) and an explicit JSON path."""
    out = tmp_path_factory.mktemp("student_eval")
    argv = ["--run-dir", str(student.run_dir), "--json", str(out / "student.json"), "--video", str(out / "student.mp4"),
            "--video-clip", "1", "--video-width", "96", "--video-height", "64"]
    assert eval_main(argv) == 0
    return out


def test_eval_teacher_run_writes_json_and_tensorboard(teacher_dir, capsys):
    from mimicjax.train.logging import read_event_scalars

    assert eval_main(["--run-dir", str(teacher_dir), "--episodes", "2"]) == 0
    output = capsys.readouterr().out
    assert "teacher of" in output and "overall" in output and "walk:mirrored" in output
    path = teacher_dir / "eval" / "checkpoint_0.json"  # the default place
    result = json.loads(path.read_text())
    check_results(result, "teacher", episodes=2)
    assert result["checkpoint"] == 0 and result["rollout_steps"] == 15
    events = read_event_scalars(teacher_dir)
    assert [step for step, _ in events["eval/success_rate"]] == [0]
    assert "eval/clip/walk_mirrored/keypoint_error/mean" in events


def test_eval_student_run_writes_json(student, student_eval):
    result = json.loads((student_eval / "student.json").read_text())
    check_results(result, "student", episodes=1)
    assert result["checkpoint"] == 2 and [clip["name"] for clip in result["clips"]][:3] == ["walk", "wave", "squat"]
    assert not list(student_eval.glob(".*"))  # no temporary files left behind


def test_eval_video_of_one_episode(student_eval):
    import imageio.v2 as imageio

    from mimicjax.eval.render import gl_unavailable

    reason = gl_unavailable()
    if reason is not None:
        pytest.skip(f"no offscreen OpenGL backend: {reason}")
    result = json.loads((student_eval / "student.json").read_text())
    video = student_eval / "student.mp4"
    assert result["video"] == str(video) and video.is_file()
    frames = [frame for frame in imageio.get_reader(str(video))]  # (its len() is unknown: inf)
    wave = result["clips"][1]
    assert len(frames) == round(wave["mean_episode_seconds"] / result["control_dt"])
    assert frames[0].shape == (64, 96, 3) and np.std(frames[0]) > 5


def test_eval_input_errors_are_clear(teacher_dir, tmp_path):
    from mimicjax.config import ConfigError

    with pytest.raises(ConfigError, match="holds no checkpoint"):
        eval_main(["--run-dir", str(tmp_path)])
    with pytest.raises(ConfigError, match="--video-clip 9"):
        eval_main(["--run-dir", str(teacher_dir), "--video", str(tmp_path / "v.mp4"), "--video-clip", "9"])
    with pytest.raises(FileNotFoundError, match="available"):
        eval_main(["--run-dir", str(teacher_dir), "--checkpoint", "7"])
