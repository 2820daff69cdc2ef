"""`mimicjax ablation`: variants x seeds trained as one program, a student distilled, every policy
benchmarked on perturbed motion, and the report's means and confidence intervals over seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mimicjax import cli
from mimicjax.config import ConfigError
from mimicjax.train import ablation as ablation_lib
from tests.conftest import PROJECT_ROOT

SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"
ABLATION = f"""
from mimicjax import config as config_lib
BASE = config_lib.apply_overrides(config_lib.load_experiment({str(SMOKE)!r}), [
    "env.sim.impl='c'", "env.sim.threads=1", "env.randomization.enabled=False", "train.num_envs=2",
    "train.rollout_steps=4", "train.iterations=1", "ppo.minibatches=2", "network.actor_hidden_sizes=(16,)",
    "network.critic_hidden_sizes=(16,)", "distill.iterations=1", "distill.rollout_steps=4",
    "distill.dagger.beta_decay_iterations=1", "distill.dagger.minibatches=2",
    "distill.student_network.actor_hidden_sizes=(16,)"])
VARIANTS = {{"full": {{}}, "no_symmetry": {{"ppo.symmetry_coef": 0.0}}}}
GRID = {{"seed": [0]}}
STUDENTS = ["full"]
BENCHMARK = {{"motions": [{str(PROJECT_ROOT / "data" / "motions" / "wave.npz")!r}], "levels": [1],
             "random_starts": 0, "retarget_steps": 3}}
"""


@pytest.fixture(scope="module")
def ablated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ablation")
    (folder / "tiny.py").write_text(ABLATION)
    out = folder / "out"
    assert cli.main(["ablation", str(folder / "tiny.py"), "--out", str(out)]) == 0
    return folder, out


def test_the_ablation_trains_distils_benchmarks_and_reports(ablated):
    _, out = ablated
    index = json.loads((out / "teachers" / "sweep.json").read_text())
    assert [r["name"] for r in index["runs"]] == ["full,seed=0", "no_symmetry,seed=0"]
    assert all(r["vmapped"] == 2 for r in index["runs"])  # one program for the teachers
    assert [p.name for p in (out / "students").iterdir()] == ["full_student,seed=0"]
    report = json.loads((out / ablation_lib.REPORT_JSON).read_text())
    assert list(report["methods"]) == ["full", "full_student", "no_symmetry"]
    assert report["levels"] == [1.0]
    for method in report["methods"].values():
        assert method["seeds"] == ["seed=0"]
        (stats,) = method["levels"]
        assert stats["runs"] == 1 and 0 <= stats["success_rate"]["mean"] <= 100
        assert stats["keypoint_error"]["mean"] > 0 and stats["keypoint_error"]["ci95"] is None  # one seed: no interval
    assert "MPJPE global (mm)" in (out / ablation_lib.REPORT_MD).read_text()
    assert (out / ablation_lib.REPORT_PNG).stat().st_size > 0


def test_a_rerun_trains_nothing_and_the_report_can_be_rebuilt(ablated, monkeypatch, capsys):
    folder, out = ablated

    def no_training(*args, **kwargs):
        raise AssertionError("finished work was done again")

    for name in ("mimicjax.train.loop.train", "mimicjax.train.variants.train_variants", "mimicjax.train.distill.distill",
                 "mimicjax.eval.commands.evaluate"):
        monkeypatch.setattr(name, no_training)
    assert cli.main(["ablation", str(folder / "tiny.py"), "--out", str(out)]) == 0
    assert cli.main(["ablation", str(folder / "tiny.py"), "--out", str(out), "--report-only"]) == 0
    assert "| full_student | 1 |" in capsys.readouterr().out


def test_the_report_is_the_mean_and_student_t_interval_over_seeds(tmp_path):
    folder = tmp_path / ablation_lib.ROBUSTNESS
    folder.mkdir()
    for seed, success in enumerate((0.5, 0.7, 0.9)):
        result = {"overall": {"success_rate": success, "episodes": 10, "keypoint_error": {"mean": 0.05},
                              "keypoint_error_world": {"mean": 0.1 * (seed + 1)}}}
        (folder / f"full,seed={seed}_level_1.json").write_text(json.dumps(result))
    report = ablation_lib.write_report(tmp_path)
    stats = report["methods"]["full"]["levels"][0]
    assert stats["success_rate"]["mean"] == pytest.approx(70.0)
    assert stats["success_rate"]["ci95"] == pytest.approx(4.3027 * 20.0 / np.sqrt(3), rel=1e-4)
    assert stats["keypoint_error_world"]["mean"] == pytest.approx(200.0)  # mm
    assert stats["keypoint_error"]["ci95"] == pytest.approx(0.0)


def test_ablation_files_are_checked(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(ABLATION.replace('STUDENTS = ["full"]', 'STUDENTS = ["other"]'))
    with pytest.raises(ConfigError, match="STUDENTS names \\['other'\\]"):
        ablation_lib.load_ablation(bad)
    for name in ("genmimic_cpu", "genmimic_gpu"):
        shipped = ablation_lib.load_ablation(PROJECT_ROOT / "experiments" / "ablations" / f"{name}.py")
        assert len(shipped.sweep.points) == 9 and shipped.students == ("full",)
