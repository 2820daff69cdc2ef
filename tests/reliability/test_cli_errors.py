"""The CLI answers bad paths and closed pipes with one line and a non-zero status, before any work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mimicjax import cli
from tests.conftest import PROJECT_ROOT

WAVE = PROJECT_ROOT / "data" / "motions" / "wave.npz"
LIBRARY = PROJECT_ROOT / "data" / "motions" / "g1_23dof_samples.npz"


@pytest.mark.parametrize("argv, fragment", [
    (["retarget", str(WAVE), "--out", "{tmp}"], "--out {tmp} is a folder"),
    (["retarget", str(WAVE), "--out", "{tmp}/file.txt/lib.npz"], "--out {tmp}/file.txt/lib.npz cannot be written"),
    (["motions", "render", str(LIBRARY), "--out", "{tmp}"], "--out {tmp} is a folder"),
    (["motions", "render", str(LIBRARY), "--out", "x.mp4", "--width", "0"], "--width and --height must be at least 1"),
    (["bench", "retarget", "--json", "{tmp}"], "--json {tmp} is a folder"),
    (["eval", "--run-dir", "{tmp}", "--json", "{tmp}"], "--json {tmp} is a folder"),
])
def test_unusable_outputs_are_refused_before_any_work(tmp_path, capsys, argv, fragment):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert fragment.replace("{tmp}", str(tmp_path)) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_closed_pipe_ends_quietly():
    """`mimicjax motions info LIB | head -1`: no BrokenPipeError traceback."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    script = "import sys; from mimicjax import cli; sys.exit(cli.main(['motions', 'info', sys.argv[1]]))"
    reader = subprocess.Popen([sys.executable, "-u", "-c", script, str(LIBRARY)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, cwd=PROJECT_ROOT)  # -u: every print writes
    reader.stdout.close()  # the reader of our output is gone before we write
    _, err = reader.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and reader.returncode == 141
