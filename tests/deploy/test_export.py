"""`mimicjax export`: a run's policy alone (parameters + normaliser), read back like the run itself.

Uses the session's tiny teacher and student runs (tests/eval/tiny_runs.py); nothing here compiles MJX.
"""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

from mimicjax import cli


def export(run_dir, out, *extra) -> int:
    return cli.main(["export", "--run-dir", str(run_dir), "--out", str(out), *extra])


def assert_same_tree(a, b):
    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    assert tree_a == tree_b
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def random_observations(env, batch: int = 3) -> dict:
    rng = np.random.default_rng(0)
    return {name: rng.normal(size=(batch, size)).astype(np.float32) for name, size in env.observation_size.items()}


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_the_exported_policy_acts_like_the_run(kind, teacher_dir, student, tmp_path, capsys):
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.eval.rollout import load_policy
    from mimicjax.train import distill, runs
    from mimicjax.train.checkpoint import read_metadata, restore
    from mimicjax.train.loop import load_motions

    run_dir = teacher_dir if kind == "teacher" else student.run_dir
    out = tmp_path / f"g1_{kind}"
    assert export(run_dir, out) == 0
    assert f"exported the {kind}" in capsys.readouterr().out

    original = load_policy(run_dir)
    env = TrackingEnv(original.config.env, load_motions(original.config))
    exported = load_policy(out, env=env)
    assert exported.kind == kind and exported.step == original.step
    assert_same_tree(runs.policy_only(exported.state), runs.policy_only(original.state))
    obs = random_observations(env)
    np.testing.assert_array_equal(np.asarray(exported.act(exported.state, obs)),
                                  np.asarray(original.act(original.state, obs)))

    meta = read_metadata(runs.checkpoints_dir(out))
    assert meta[runs.POLICY_ONLY_KEY] is True and meta["exported_from"] == {"run": run_dir.name, "step": original.step}
    raw = restore(runs.checkpoints_dir(out))  # no optimiser or rollout state
    assert list(raw) == ["policy"] and sorted(raw["policy"]) == ["obs_stats", "params"]
    run_size = sum(f.stat().st_size for f in run_dir.joinpath("checkpoints").rglob("*") if f.is_file())
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) < run_size
    assert json.loads((out / "config.json").read_text())["env"]["robot"] == original.config.env.robot
    assert not any(str(tmp_path) in f.read_text(errors="ignore") for f in out.rglob("*") if f.is_file())  # no paths
    assert not list(tmp_path.glob(".*"))  # no temporary folder left behind

    if kind == "teacher":  # distillation reads an exported teacher as it reads the run
        state, step = distill.load_teacher(out, env)
        assert step == original.step
        assert_same_tree(runs.policy_only(state), runs.policy_only(original.state))
    else:
        with pytest.raises(Exception, match="holds a student, not a teacher"):
            distill.load_teacher(out, env)


def test_export_refuses_to_overwrite_and_drops_paths_outside_the_project(teacher_dir, tmp_path, capsys):
    from mimicjax import config as config_lib
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.train import distill, runs
    from mimicjax.train.checkpoint import Checkpoints, read_metadata
    from mimicjax.train.loop import load_motions, sample_library_path

    out = tmp_path / "exported"
    out.mkdir()
    assert export(teacher_dir, out) == 2
    assert "already exists" in capsys.readouterr().err and not any(out.iterdir())

    # A run trained on a library outside the project: the exported config holds no path to it.
    moved = tmp_path / "run_elsewhere"
    moved_checkpoints = runs.checkpoints_dir(moved)
    config = runs.read_run_config(teacher_dir)
    target = distill.teacher_checkpoint_target(config, TrackingEnv(config.env, load_motions(config)))
    with Checkpoints(runs.checkpoints_dir(teacher_dir), max_to_keep=None, async_save=False) as source:
        state = source.restore(0, target=target)
    elsewhere = tmp_path / "elsewhere" / "lib.npz"  # on this machine, outside the project
    elsewhere.parent.mkdir()
    shutil.copyfile(sample_library_path(config.env.robot), elsewhere)
    config = config_lib.apply_overrides(config, [f"motions.library={elsewhere}"])
    with Checkpoints(moved_checkpoints, max_to_keep=None, async_save=False) as target:
        target.save(0, state, config=config_lib.to_dict(config), metadata={"env_steps": 7})
    assert export(moved, out, "--overwrite", "--checkpoint", "0") == 0
    assert "--motions" in capsys.readouterr().out
    assert runs.read_run_config(out).motions.library == ""
    assert str(tmp_path) not in (out / "config.json").read_text()
    meta = read_metadata(runs.checkpoints_dir(out))
    assert meta["trained_on"] == "lib.npz" and meta["env_steps"] == 7


def test_average_exports_the_mean_parameters_of_checkpoints(student, tmp_path, capsys):
    from mimicjax.eval.rollout import load_policy
    from mimicjax.train import runs
    from mimicjax.train.checkpoint import read_metadata

    out = tmp_path / "g1_student_mean"
    assert export(student.run_dir, out, "--average", "1,2") == 0
    assert "the mean of checkpoints 1, 2" in capsys.readouterr().out
    first, second, averaged = load_policy(student.run_dir, 1), load_policy(student.run_dir, 2), load_policy(out)
    mean = jax.tree.map(lambda a, b: (np.asarray(a) + np.asarray(b)) / 2, first.state.params, second.state.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), b, rtol=1e-6, atol=1e-7), averaged.state.params, mean)
    assert_same_tree(averaged.state.obs_stats, second.state.obs_stats)  # the newest normaliser
    assert not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
                   zip(jax.tree.leaves(first.state.params), jax.tree.leaves(second.state.params)))
    meta = read_metadata(runs.checkpoints_dir(out))
    assert meta["averaged_checkpoints"] == [1, 2] and averaged.step == 2

    with pytest.raises(SystemExit):  # argparse refuses: one checkpoint is no average
        export(student.run_dir, tmp_path / "one", "--average", "2")
    assert "at least two different checkpoint steps" in capsys.readouterr().err
    assert export(student.run_dir, tmp_path / "both", "--average", "1,2", "--checkpoint", "1") == 2
    assert "--checkpoint or --average, not both" in capsys.readouterr().err
    assert export(student.run_dir, tmp_path / "missing", "--average", "1,9") == 2
    err = capsys.readouterr().err
    assert "9" in err and "Traceback" not in err
    assert not (tmp_path / "one").exists() and not (tmp_path / "both").exists() and not (tmp_path / "missing").exists()
