"""Session runs for the evaluation tests (see tiny_runs.py)."""

from __future__ import annotations

import pytest

from mimicjax.motion.render import choose_gl_backend

choose_gl_backend()  # before any test imports mujoco, so that offscreen videos can be rendered


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
