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
    assert report["artefacts"] == json.loads((out / "request.json").read_text())["artefacts"]
    # Another selection of artefacts would mix with these files: refused, naming what differs.
    assert cli.main([*argv, "--artefacts", "jitter"]) == 2
    assert "made with other artefacts" in capsys.readouterr().err


def test_artefacts_can_be_benchmarked_one_at_a_time(teacher_dir, tmp_path, capsys):
    """`--artefacts root_drift` moves the retargeted root away from the clean clip; `--artefacts jitter`
    (joint rotations only) moves it far less."""
    import numpy as np

    from mimicjax.motion.library import load_library

    def root_shift(artefact):
        out = tmp_path / artefact
        assert cli.main(["bench", "robustness", "--run-dir", str(teacher_dir), "--motions", str(WAVE), "--levels", "0,5",
                         "--random-starts", "0", "--retarget-steps", "5", "--artefacts", artefact, "--out", str(out)]) == 0
        assert json.loads(capsys.readouterr().out)["artefacts"] == [artefact]
        clean, noisy = (np.asarray(load_library(out / f"level_{level}.npz").root_pos) for level in (0, 5))
        return np.abs(noisy[:, :2] - clean[:, :2]).max()

    assert root_shift("root_drift") > 0.1 > root_shift("jitter")
    assert cli.main(["bench", "robustness", "--run-dir", str(teacher_dir), "--motions", str(WAVE), "--artefacts",
                     "glitter", "--out", str(tmp_path / "bad")]) == 2
    assert "--artefacts 'glitter': unknown" in capsys.readouterr().err


def test_robustness_refuses_bad_levels(teacher_dir, tmp_path, capsys):
    assert cli.main(["bench", "robustness", "--run-dir", str(teacher_dir), "--motions", str(WAVE), "--levels", "7",
                     "--out", str(tmp_path)]) == 2
    assert "--levels must be within 0..5" in capsys.readouterr().err
