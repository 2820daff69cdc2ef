"""`mimicjax bench train` at the smallest size: every figure is there and positive.

Its two variants (the smoke config with 4 envs, end effectors weighted high, then uniform weights) make
the same vmapped program as the sweep test's two points and the notebook's tiny ablation, so with the
session's shared compilation cache that program is compiled once for the three.
"""

from __future__ import annotations

import json

import pytest

from mimicjax import cli
from mimicjax.train import sweep as sweep_lib
from tests.train.test_sweep import EE_HIGH, SMOKE


@pytest.fixture(scope="module")
def compile_cache_dir(tmp_path_factory):
    """The persistent compilation cache shared by the sweep, notebook and bench tests: the one mimicjax
    configured, else a folder of this test session."""
    import jax

    return jax.config.jax_compilation_cache_dir or str(tmp_path_factory.getbasetemp() / "jax_compile_cache")


def test_bench_train_reports_every_figure(tmp_path, compile_cache_dir, capsys):
    out = tmp_path / "bench.json"
    weights = repr(tuple(EE_HIGH.items()))
    args = [
        "bench", "train", "--json", str(out), "--config", str(SMOKE), "--envs", "4", "--steps", "8",
        "--repeats", "1", "--compile-cache", "--set", f"env.rewards.keypoint_group_weights={weights}",
        "--variants", "2",
    ]
    with sweep_lib.compilation_cache(compile_cache_dir):
        assert cli.main(args) == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert report["benchmark"] == "train" and report["robot"] == "g1_23dof"
    assert report["num_envs"] == 4 and report["transitions_per_call"] == 32
    for name in ("physics_env_steps_per_s", "env_steps_per_s", "update_s", "iteration_s", "peak_host_memory_mb"):
        assert report[name] > 0, name
    assert set(report["compile_s"]) == {"physics", "env", "update", "iteration", "variants"}
    variants = report["variants"]
    assert variants["count"] == 2 and variants["varied"] == ["seed", "env.rewards.keypoint_group_weights"]
    assert variants["env_steps_per_s"] > 0 and variants["speedup_over_sequential"] > 0
    assert variants["sequential_seconds_per_call"] == pytest.approx(2 * report["iteration_s"])
    assert all(seconds > 0 for seconds in report["compile_s"].values())
    assert report["compile_cache"] is True
    assert report["versions"]["jax"] and report["backend"] in ("cpu", "gpu", "tpu")


def test_bench_train_rejects_bad_sizes(capsys):
    assert cli.main(["bench", "train", "--envs", "0"]) == 2
    assert "--envs" in capsys.readouterr().err
