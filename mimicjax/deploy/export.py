"""`export_policy`: one checkpoint's policy (parameters + observation normaliser) as a small run directory.

    export_policy("runs/cpu_student", "data/policies/g1_23dof_student")
    mimicjax eval --run-dir data/policies/g1_23dof_student      # reads it like the run it came from

`average=[800, 900, 1000]` exports the mean of those checkpoints' parameters (Polyak tail averaging, with
the newest one's observation normaliser): DAgger students change which clips they fail from one
checkpoint to the next, and their average tracks better than any of them (measured in
`experiments/results/cpu_tracking.md`).

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
SAMPLE_CLIPS = "the sample clips"  # TRAINED_ON_KEY of a run without a motion library of its own
AVERAGED_KEY = "averaged_checkpoints"  # metadata: the checkpoints whose parameters were averaged


def averaged_policy(run_dir: str | Path, steps):
    """The run's policy with the mean parameters of checkpoints `steps` and the newest one's observation
    normaliser (a `mimicjax.eval.rollout.Policy` at the newest step)."""
    import dataclasses

    import jax

    from mimicjax.eval.rollout import load_policy

    steps = sorted({int(step) for step in steps})
    if len(steps) < 2:
        raise ConfigError(f"--average needs at least two checkpoints, got {steps}")
    policies = [load_policy(run_dir, step) for step in steps]
    structures = {str(jax.tree.structure(p.state.params)) for p in policies}
    shapes = {tuple(x.shape for x in jax.tree.leaves(p.state.params)) for p in policies}
    if len(structures) > 1 or len(shapes) > 1:
        raise ConfigError(f"the checkpoints {steps} of {run_dir} hold networks of different shapes; average checkpoints of one run")
    mean = jax.tree.map(lambda *leaves: sum(leaves) / len(leaves), *[p.state.params for p in policies])
    newest = policies[-1]
    return dataclasses.replace(newest, state=newest.state.replace(params=mean))


def policy_to_export(run_dir: str | Path, step: int | None = None, average=None):
    """The policy `mimicjax export` writes: one checkpoint's (default the newest), or an average."""
    from mimicjax.eval.rollout import load_policy

    if average is not None and step is not None:
        raise ConfigError("pass --checkpoint or --average, not both")
    return averaged_policy(run_dir, average) if average is not None else load_policy(run_dir, step)


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


def export_policy(run_dir: str | Path, out_dir: str | Path, step: int | None = None, overwrite: bool = False,
                  average=None) -> Path:
    """Write the policy of `run_dir` at `step` (default latest), or the average of the checkpoints
    `average`, to `out_dir`; returns `out_dir`."""
    import dataclasses

    from mimicjax.io_utils import atomic_dir, atomic_write_text
    from mimicjax.train import runs
    from mimicjax.train.checkpoint import Checkpoints, dumps, read_metadata
    from mimicjax.train.run_log import CONFIG_FILE

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ConfigError(f"{out_dir} already exists; choose another --out or pass --overwrite")
    if out_dir.resolve() == run_dir.resolve():
        raise ConfigError(f"--out must differ from --run-dir ({run_dir})")
    policy = policy_to_export(run_dir, step, average)
    source_meta = read_metadata(runs.checkpoints_dir(run_dir), policy.step)

    config = policy.config
    library = _project_relative(config.motions.library)
    metadata = {
        runs.POLICY_KEY: policy.kind,
        runs.POLICY_ONLY_KEY: True,
        EXPORTED_FROM_KEY: {"run": run_dir.resolve().name, "step": policy.step},
        TRAINED_ON_KEY: Path(config.motions.library).name if config.motions.library else SAMPLE_CLIPS,
    }
    if average is not None:
        metadata[AVERAGED_KEY] = sorted({int(s) for s in average})
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
