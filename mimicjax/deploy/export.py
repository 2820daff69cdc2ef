"""`export_policy`: one checkpoint's policy (parameters + observation normaliser) as a small run directory.

    export_policy("runs/cpu_student", "data/policies/g1_23dof_student")
    mimicjax eval --run-dir data/policies/g1_23dof_student      # reads it like the run it came from

The exported folder holds `checkpoints/<step>/` (Orbax, like any run) whose state is
`runs.policy_only(state)` and whose metadata says `policy_only: true`, the policy's kind, the name of
the run it came from and, for a student, its teacher's step. The resolved config is kept, except a motion
library outside the project, which is dropped (named in the metadata instead) so that the folder holds no
machine paths: evaluate such a policy with `--motions`.
"""

from __future__ import annotations

from pathlib import Path

from mimicjax.config import ConfigError

EXPORTED_FROM_KEY = "exported_from"  # metadata: the source run folder's name and checkpoint step
TRAINED_ON_KEY = "trained_on"  # metadata: file name of the motion library the run was trained on


def _project_relative(path: str) -> str | None:
    """`path` relative to the project root when it lies inside the project, else None."""
    from mimicjax.demo import PROJECT_ROOT

    if not path:
        return ""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return None


def export_policy(run_dir: str | Path, out_dir: str | Path, step: int | None = None, overwrite: bool = False) -> Path:
    """Write the policy of `run_dir` at `step` (default latest) to `out_dir`; returns `out_dir`."""
    import dataclasses

    from mimicjax.eval.rollout import load_policy
    from mimicjax.io_utils import atomic_dir, atomic_write_text
    from mimicjax.train import runs
    from mimicjax.train.checkpoint import Checkpoints, dumps, read_metadata
    from mimicjax.train.run_log import CONFIG_FILE

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ConfigError(f"{out_dir} already exists; choose another --out or pass --overwrite")
    if out_dir.resolve() == run_dir.resolve():
        raise ConfigError(f"--out must differ from --run-dir ({run_dir})")
    policy = load_policy(run_dir, step)
    source_meta = read_metadata(runs.checkpoints_dir(run_dir), policy.step)

    config = policy.config
    library = _project_relative(config.motions.library)
    metadata = {
        runs.POLICY_KEY: policy.kind,
        runs.POLICY_ONLY_KEY: True,
        EXPORTED_FROM_KEY: {"run": run_dir.resolve().name, "step": policy.step},
        TRAINED_ON_KEY: Path(config.motions.library).name if config.motions.library else "the sample clips",
    }
    for key in (runs.TEACHER_STEP_KEY, "env_steps", "iteration"):
        if key in source_meta:
            metadata[key] = source_meta[key]
    if library is None:
        config = dataclasses.replace(config, motions=dataclasses.replace(config.motions, library=""))
    elif library != config.motions.library:
        config = dataclasses.replace(config, motions=dataclasses.replace(config.motions, library=library))

    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        with Checkpoints(runs.checkpoints_dir(tmp), max_to_keep=None, async_save=False) as checkpoints:
            checkpoints.save(policy.step, {"policy": runs.policy_only(policy.state)}, config=config,
                             metadata=metadata, force=True)
        atomic_write_text(tmp / CONFIG_FILE, dumps(config))
        for marker in tmp.rglob("commit_success.txt"):  # Orbax writes the folder's absolute path in these
            marker.write_text("Checkpoint commit was successful\n")
    return out_dir
