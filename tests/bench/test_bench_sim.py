"""`mimicjax bench sim` from a fresh process, exactly as a user runs it.

It also guards against the batched-MJX hang on 2-core CPUs: the command runs without any thread
setting from the caller, under a timeout, so a hang fails the test instead of stalling CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HANG_TIMEOUT_S = 600


def test_bench_sim_runs_on_the_cpu_and_writes_its_keys(tmp_path):
    out = tmp_path / "out.json"
    env = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "XLA_FLAGS")}
    command = [sys.executable, "-m", "mimicjax.cli", "bench", "sim", "--batch", "64", "--steps", "50", "--chunk", "25",
               "--json", str(out)]
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`mimicjax bench sim --batch 64` did not finish in {HANG_TIMEOUT_S} s: batched MJX hung")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    for key in ("mjx_steps_per_s", "mujoco_c_steps_per_s", "compile_s", "batch", "backend", "versions"):
        assert key in report, key
    assert report["batch"] == 64 and report["mjx_finite"]
    assert report["mjx_steps_per_s"] > 0 and report["mujoco_c_steps_per_s"] > 0 and report["compile_s"] > 0
    assert json.loads(result.stdout) == report
