"""Process-wide settings applied by `import mimicjax`, above all the guard against the CPU pool deadlock.

Each check runs in a fresh interpreter: these settings only act before JAX's backend starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PROJECT_ROOT

# Many independent batched Cholesky factorisations per program: with jaxlib's CPU LAPACK kernels and
# a pool of more than one thread this hangs within seconds (every worker waits on chunks queued behind
# itself). A watchdog turns a hang into exit code 3; the outer timeout is the last resort.
DEADLOCK_PROGRAM = textwrap.dedent(
    """
    import os, threading, time
    import mimicjax  # noqa: F401  (must come first: it sizes XLA's CPU thread pool)
    import jax, jax.numpy as jnp

    last = [time.monotonic()]
    def watchdog():
        while True:
            time.sleep(1.0)
            if time.monotonic() - last[0] > 15.0:
                print("no progress for 15 s", flush=True)
                os._exit(3)
    threading.Thread(target=watchdog, daemon=True).start()

    @jax.jit
    def factorise(xs):
        return sum(jnp.linalg.cholesky(x @ jnp.swapaxes(x, -1, -2) + 35.0 * jnp.eye(35)).sum() for x in xs)

    xs = [jax.random.normal(k, (256, 35, 35)) for k in jax.random.split(jax.random.key(0), 32)]
    start = time.monotonic()
    while time.monotonic() - start < 25.0:
        jax.block_until_ready(factorise(xs))
        last[0] = time.monotonic()
    print("completed", flush=True)
    """
)


def run_python(code: str, env_overrides: dict | None = None, timeout: float = 120.0) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "NPROC", "XLA_FLAGS")}
    env.update(env_overrides or {})
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


def test_batched_lapack_calls_do_not_deadlock_after_importing_mimicjax():
    try:
        result = run_python(DEADLOCK_PROGRAM)
    except subprocess.TimeoutExpired:
        pytest.fail("batched Cholesky factorisations hung: the CPU thread-pool guard is not in effect")
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout[-500:]} {result.stderr[-2000:]}"
    assert "completed" in result.stdout


def test_the_guard_sizes_the_pool_and_respects_the_user():
    show = "import mimicjax, os; print(os.environ.get('PJRT_NPROC'), os.environ.get('XLA_FLAGS'))"
    ours = run_python(show, timeout=60).stdout.split()
    assert ours[0] == "1"
    assert "--xla_cpu_enable_concurrency_optimized_scheduler=false" in ours
    theirs = run_python(show, {"PJRT_NPROC": "4"}, timeout=60).stdout.split()
    assert theirs[0] == "4"


def test_a_late_import_warns_instead_of_failing_silently():
    code = "import jax; jax.numpy.ones(1).block_until_ready(); import mimicjax"
    result = run_python(code, timeout=60)
    assert result.returncode == 0
    if os.cpu_count() and os.cpu_count() > 1:
        assert "can hang for good" in result.stderr and "PJRT_NPROC=1" in result.stderr
