"""`mimicjax bench robustness` end to end at tiny size: perturb -> retarget -> evaluate -> table and plot,
resumable. Uses the session's tiny teacher run (tests/eval/tiny_runs.py)."""

from __future__ import annotations

import json

from mimicjax import cli
from tests.conftest import PROJECT_ROOT

WAVE = PROJECT_ROOT / "data" / "motions" / "wave.npz"


def test_robustness_benchmark_end_to_end_and_resumable(teacher_dir, tmp_path, capsys):
    out = tmp_path / "robustness"
    argv = ["bench", "robustness", "--run-dir", str(teacher_dir), "--motions", str(WAVE), "--levels", "4",
            "--random-starts", "0", "--retarget-steps", "5", "--out", str(out), "--json", str(tmp_path / "r.json")]
    assert cli.main(argv) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert json.loads(capsys.readouterr().out) == report
    row = report["results"]["teacher"][0]
    assert report["levels"] == [4.0] and report["clips"] == ["wave"] and row["level"] == 4.0
    assert row["episodes"] == 2 and 0.0 <= row["success_rate"] <= 1.0  # the wave and its mirror, from the start
    assert 0.0 < row["keypoint_error"] and 0.0 < row["keypoint_error_world"]
    assert (out / "level_4.npz").is_file() and (out / "robustness.png").stat().st_size > 10_000
    # Resumed: every file is reused, the figures are the same.
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["results"] == report["results"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")} == before


def test_robustness_refuses_bad_levels(teacher_dir, tmp_path, capsys):
    assert cli.main(["bench", "robustness", "--run-dir", str(teacher_dir), "--motions", str(WAVE), "--levels", "7",
                     "--out", str(tmp_path)]) == 2
    assert "--levels must be within 0..5" in capsys.readouterr().err
