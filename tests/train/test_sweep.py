"""`mimicjax sweep`: a 2-point grid on the smoke config trains two runs (as one vmapped program), indexes
them, and a re-run skips them.

The two points use the keypoint-group weights of the reward-ablation notebook at its test size, and all
of these tests share one persistent compilation cache (`compile_cache_dir`), so each distinct program is
compiled once per test session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicjax import cli
from mimicjax.config import ConfigError, load_experiment
from mimicjax.train import sweep as sweep_lib
from mimicjax.train.run_log import SCALARS_FILE, read_jsonl

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"
# The same weightings and sizes as notebooks/reward_ablation.ipynb under MIMICJAX_NOTEBOOK_TINY.
EE_HIGH = {"end_effector": 4.0, "upper": 1.0, "lower": 0.5}
UNIFORM = {"end_effector": 1.0, "upper": 1.0, "lower": 1.0}

SWEEP_FILE = f"""
BASE = {str(SMOKE)!r}
GRID = {{"env.rewards.keypoint_group_weights": [{EE_HIGH!r}, {UNIFORM!r}]}}
NAME = "tiny"
"""


@pytest.fixture(scope="module")
def compile_cache_dir(tmp_path_factory):
    """The persistent compilation cache shared by the sweep, notebook and bench tests: the one mimicjax
    configured, else a folder of this test session."""
    import jax

    return jax.config.jax_compilation_cache_dir or str(tmp_path_factory.getbasetemp() / "jax_compile_cache")


SIZE = ["--set", "train.num_envs=4", "--set", "train.iterations=2", "--set", "train.checkpoint_every=2"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, compile_cache_dir):
    """The sweep run once through the command line: (sweep file, out dir, exit code)."""
    folder = tmp_path_factory.mktemp("sweep")
    sweep_file = folder / "tiny.py"
    sweep_file.write_text(SWEEP_FILE)
    out = folder / "out"
    with sweep_lib.compilation_cache(compile_cache_dir):
        code = cli.main(["sweep", str(sweep_file), "--out", str(out), *SIZE])
    return sweep_file, out, code


def test_sweep_trains_every_point_and_indexes_it(swept):
    _, out, code = swept
    assert code == 0
    index = json.loads((out / sweep_lib.INDEX_FILE).read_text())
    assert [r["status"] for r in index["runs"]] == ["finished", "finished"]
    assert [r["vmapped"] for r in index["runs"]] == [2, 2]  # only reward weights differ: one program
    names = [r["name"] for r in index["runs"]]
    assert names == [
        "keypoint_group_weights=end_effector-4.0_upper-1.0_lower-0.5",
        "keypoint_group_weights=end_effector-1.0_upper-1.0_lower-1.0",
    ]
    for entry, weights in zip(index["runs"], (EE_HIGH, UNIFORM)):
        run_dir = out / entry["dir"]
        records = read_jsonl(run_dir / SCALARS_FILE)
        assert [r["step"] for r in records] == [1, 2]
        assert "env/error/keypoint_end_effector" in records[-1]
        assert entry["final"]["reward/mean"] == records[-1]["reward/mean"]
        saved = json.loads((run_dir / "config.json").read_text())
        assert saved["env"]["rewards"]["keypoint_group_weights"] == [list(p) for p in weights.items()]
        assert saved["train"]["num_envs"] == 4
        assert sweep_lib.finished_iterations(run_dir) == 2


def test_rerun_skips_finished_points(swept, monkeypatch, capsys):
    sweep_file, out, _ = swept
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/" + SCALARS_FILE)}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished point was trained again")

    monkeypatch.setattr("mimicjax.train.loop.train", no_training)
    monkeypatch.setattr("mimicjax.train.variants.train_variants", no_training)
    assert cli.main(["sweep", str(sweep_file), "--out", str(out), *SIZE]) == 0
    assert capsys.readouterr().err.count("already finished") == 2
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/" + SCALARS_FILE)} == before
    index = json.loads((out / sweep_lib.INDEX_FILE).read_text())
    assert [r["status"] for r in index["runs"]] == ["finished", "finished"]


def test_a_run_dir_of_another_config_is_not_trained_over(swept, capsys):
    sweep_file, out, _ = swept
    # Same grid point names, but a different base: the saved runs must not be reused or overwritten.
    code = cli.main(["sweep", str(sweep_file), "--out", str(out), *SIZE, "--set", "ppo.learning_rate=0.5"])
    assert code == 2
    assert "holds a run of a different configuration" in capsys.readouterr().err


def test_grid_points_names_and_errors():
    base = load_experiment(SMOKE)
    sweep = sweep_lib.make_sweep(base, {"ppo.learning_rate": [1e-3, 3e-4], "seed": [0, 1]})
    assert [p.name for p in sweep.points] == [
        "learning_rate=0.001,seed=0", "learning_rate=0.001,seed=1",
        "learning_rate=0.0003,seed=0", "learning_rate=0.0003,seed=1",
    ]
    assert sweep.points[3].config.ppo.learning_rate == 3e-4 and sweep.points[3].config.seed == 1
    # Keys sharing a last component are spelled out in full.
    sweep = sweep_lib.make_sweep(base, {"ppo.epochs": [1], "distill.dagger.epochs": [2]})
    assert sweep.points[0].name == "ppo.epochs=1,distill.dagger.epochs=2"
    with pytest.raises(ConfigError, match="unknown config field 'ppo.learning_rat'"):
        sweep_lib.make_sweep(base, {"ppo.learning_rat": [1.0]})
    with pytest.raises(ConfigError, match="expected float"):
        sweep_lib.make_sweep(base, {"ppo.learning_rate": ["fast"]})
    with pytest.raises(ConfigError, match="non-empty list"):
        sweep_lib.make_sweep(base, {"seed": 3})
    with pytest.raises(ConfigError, match="keypoint_group_weights.*expected"):
        sweep_lib.make_sweep(base, {"env.rewards.keypoint_group_weights": ["x"]})


def test_sweep_file_errors(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("GRID = {'seed': [0]}\n")
    with pytest.raises(ConfigError, match="must define BASE"):
        sweep_lib.load_sweep(bad)
    bad.write_text("BASE = 'nowhere.py'\nGRID = {'seed': [0]}\n")
    with pytest.raises(ConfigError, match="not found"):
        sweep_lib.load_sweep(bad)


def test_shipped_sweep_file_loads():
    sweep = sweep_lib.load_sweep(PROJECT_ROOT / "experiments" / "sweeps" / "keypoint_weights.py")
    assert sweep.name == "keypoint_weights"
    assert len(sweep.points) == 6
    assert {p.config.seed for p in sweep.points} == {0, 1}
