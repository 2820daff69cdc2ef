"""The research notebooks run end to end at their smallest size (`MIMICJAX_NOTEBOOK_TINY=1`).

Each notebook runs in a fresh Jupyter kernel of this interpreter, described by a kernel spec in a
temporary folder (nothing is registered with Jupyter). The kernel inherits this process's environment
plus the test settings, including the session's persistent compilation cache, which the sweep and bench
tests share: the notebook's training runs compile the same programs as the sweep test's.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "mimicjax-test"


@pytest.fixture(scope="module")
def compile_cache_dir(tmp_path_factory):
    """The persistent compilation cache shared by the sweep, notebook and bench tests: the one mimicjax
    configured, else a folder of this test session."""
    import jax

    return jax.config.jax_compilation_cache_dir or str(tmp_path_factory.getbasetemp() / "jax_compile_cache")


def this_interpreter_kernel(folder: Path):
    """A kernel manager whose only kernel is ipykernel on `sys.executable`."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = folder / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "mimicjax tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def run_notebook(path: Path, tmp_path: Path, env: dict[str, str]):
    notebook = nbformat.read(path, as_version=4)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)  # the kernel is started with this process's environment
    try:
        client = nbclient.NotebookClient(
            notebook,
            km=this_interpreter_kernel(tmp_path),
            timeout=900,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return notebook


def test_reward_ablation_notebook(tmp_path, compile_cache_dir):
    out = tmp_path / "ablation"
    env = {
        "MIMICJAX_NOTEBOOK_TINY": "1",
        "MIMICJAX_NOTEBOOK_OUT": str(out),
        # Batched MJX on a 2-core machine needs more PJRT worker threads than cores.
        "PJRT_NPROC": os.environ.get("PJRT_NPROC", "8"),
        "JAX_COMPILATION_CACHE_DIR": str(compile_cache_dir),
        "MPLBACKEND": "Agg",
    }
    notebook = run_notebook(NOTEBOOKS / "reward_ablation.ipynb", tmp_path, env)
    assert (out / "reward_ablation.png").stat().st_size > 0
    index = json.loads((out / "sweep.json").read_text())
    assert [r["status"] for r in index["runs"]] == ["finished", "finished"]
    for entry in index["runs"]:
        assert (out / entry["dir"] / "scalars.jsonl").is_file()
    printed = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "saved" in printed and "end_effectors_high" in printed
    assert "trained as one program: True" in printed
