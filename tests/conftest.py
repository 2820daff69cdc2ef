"""Shared test fixtures.

`../shared/reference/` (beside the project root) holds real third-party data used for parity and reader
tests. A user's fresh clone does not have it, so tests that need it skip with a clear reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "reference"


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

    return sim_lib.make_sim(sim_lib.SimConfig(variant="29dof", impl="jax"))
