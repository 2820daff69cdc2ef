"""Shared test fixtures.

`../shared/reference/` (beside the project root) holds real third-party data used for parity and reader
tests. A user's fresh clone does not have it, so tests that need it skip with a clear reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mimicjax  # noqa: F401  (applies mimicjax's runtime settings before JAX starts)
from mimicjax import robots

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "reference"


# ---- parallel runs (pytest-xdist with `--dist loadgroup`, as scripts/test.sh runs the suite) -----------
# A worker runs whole groups. Each test file is a group of its own (its module fixtures are built once),
# except the files below, which share a session fixture or compiled programs (through the persistent
# compilation cache) and so run on one worker, one after another.
SHARED_WORK_GROUPS = {
    "tiny_runs": ("tests/deploy/test_export.py", "tests/deploy/test_onnx.py", "tests/eval/test_eval.py",
                  "tests/eval/test_robustness.py", "tests/reliability/test_damaged_checkpoints.py",
                  "tests/train/test_distill.py"),
    "tracking_env": ("tests/deploy/test_observation.py", "tests/envs/test_mirror.py", "tests/envs/test_tracking.py"),
    "training_programs": ("tests/bench/test_bench_train.py", "tests/test_notebooks.py", "tests/train/test_sweep.py"),
}
_GROUP_OF_FILE = {file: group for group, files in SHARED_WORK_GROUPS.items() for file in files}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            file = item.path.relative_to(PROJECT_ROOT).as_posix()
            item.add_marker(pytest.mark.xdist_group(_GROUP_OF_FILE.get(file, file)))


def reference_file(relative: str) -> Path:
    """Path of a reference file, or skip the calling test when it is not on this machine."""
    path = REFERENCE_DIR / relative
    if not path.exists():
        pytest.skip(f"reference data not available: {path} (only present in the development checkout)")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference data folder not available: {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def g1_sim():
    """The 29-DoF G1 compiled for MJX once per test session: `(sim, mj_model)`."""
    from mimicjax.envs import sim as sim_lib

    return sim_lib.make_sim(robots.get("g1_29dof"), sim_lib.SimConfig(impl="jax"))


# ---- tracking env: one compiled reset and step per session (MJX compiles are the slow part) --------

TRACKING_BATCH = 4


@pytest.fixture(scope="session")
def tracking_library():
    """Two synthetic 29-DoF clips and their mirrored copies (clips 2 and 3 mirror clips 0 and 1)."""
    from tests.envs.synthetic_motion import synthetic_library

    return synthetic_library("29dof", mirror=True)


@pytest.fixture(scope="session")
def tracking_env(tracking_library):
    """The training configuration (randomisation and noise on) with jitted, vmapped reset and step.

    Returns `(env, reset, step)`: `reset(keys)` and `step(state, actions)` over a leading env axis.
    """
    import jax

    from mimicjax.envs import sim as sim_lib
    from mimicjax.envs.tracking import TrackingConfig, TrackingEnv

    config = TrackingConfig(robot="g1_29dof", sim=sim_lib.SimConfig(impl="jax"))
    env = TrackingEnv(config, tracking_library)
    return env, jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


@pytest.fixture(scope="session")
def eval_tracking_env(tracking_env, tracking_library):
    """The evaluation configuration (no randomisation, no noise) with a jitted, vmapped `reset_to`."""
    import jax

    from mimicjax.envs.tracking import TrackingEnv

    train_env = tracking_env[0]
    env = TrackingEnv(train_env.config.evaluation(), tracking_library, sim=train_env.sim)
    return env, jax.jit(jax.vmap(env.reset_to))


# ---- tiny teacher and student runs shared by the distillation and evaluation tests ------------------


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "runs"


@pytest.fixture(scope="session")
def teacher_dir(runs_root):
    from tests.eval.tiny_runs import teacher_run

    return teacher_run(runs_root)


@pytest.fixture(scope="session")
def student(runs_root):
    from tests.eval.tiny_runs import student_run

    return student_run(runs_root)
