"""Learning-curve figures from a run's scalars.jsonl and eval JSONs."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from mimicjax.train.run_log import RunLogger
from mimicjax.train.plots import plot_runs, run_curves, smoothed


def fake_run(run_dir, iterations=30, steps_per_iteration=1536, seconds=1.5, evals=(10, 30)):
    with RunLogger(run_dir) as log:
        for i in range(1, iterations + 1):
            log.scalars({
                "reward/mean": 0.1 * i, "env/reward/keypoint": 0.01 * i, "env/reward/root_pos": 0.005 * i,
                "episode/length": float(i), "episode/termination_rate": 1.0 / i if i > 1 else float("nan"),
                "env/error/keypoint": 0.5 / i, "perf/env_steps": i * steps_per_iteration, "perf/iteration_s": seconds,
            }, step=i)
    (run_dir / "eval").mkdir()
    for step in evals:
        (run_dir / "eval" / f"checkpoint_{step}.json").write_text(json.dumps({"success_rate": step / 30}))
    (run_dir / "eval" / "checkpoint_30_noise_0.05.json").write_text(json.dumps({"success_rate": 0.0}))
    return run_dir


def test_curves_follow_env_steps_and_iteration_time(tmp_path):
    curves = run_curves(fake_run(tmp_path / "teacher"))
    np.testing.assert_allclose(curves["env_steps"], np.arange(1, 31) * 1536)
    np.testing.assert_allclose(curves["hours"], np.arange(1, 31) * 1.5 / 3600)
    assert np.isnan(curves["episode/termination_rate"][0])
    # Noise evaluations are not success points; clean ones sit at their checkpoint's env steps.
    assert [(s, round(r, 3)) for s, _, r in curves["eval"]] == [(10 * 1536, 0.333), (30 * 1536, 1.0)]


def test_smoothing_is_a_trailing_mean_that_skips_nans():
    np.testing.assert_allclose(smoothed(np.array([1.0, 3.0, np.nan, 5.0]), 2), [1.0, 2.0, 3.0, 5.0])
    np.testing.assert_allclose(smoothed(np.array([1.0, 2.0]), 1), [1.0, 2.0])


def test_plot_writes_a_png_of_several_runs(tmp_path):
    runs = [fake_run(tmp_path / "a"), fake_run(tmp_path / "b", iterations=12, evals=())]
    out = plot_runs(runs, tmp_path / "plots" / "curves.png", smooth=3)
    image = iio.imread(out)
    assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 1500
    assert image.std() > 5  # not a blank canvas
    assert not list((tmp_path / "plots").glob(".*"))  # written atomically: no temporary left


def test_plot_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="scalars.jsonl not found"):
        run_curves(tmp_path)
    (tmp_path / "scalars.jsonl").write_text("")
    with pytest.raises(ValueError, match="no training iterations"):
        run_curves(tmp_path)


def test_plot_command(tmp_path, capsys):
    from mimicjax.cli import main

    run = fake_run(tmp_path / "run")
    assert main(["plot", str(run), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").is_file() and "wrote" in capsys.readouterr().out
    assert main(["plot", str(run), "--out", str(tmp_path / "d.png"), "--labels", "x", "y"]) == 2
    assert "--labels gives 2 names for 1 runs" in capsys.readouterr().err
