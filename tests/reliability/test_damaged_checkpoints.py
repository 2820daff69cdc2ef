"""A damaged newest checkpoint (a truncated data file, a missing item) is named in one warning line and
the newest readable one is used instead, by resume and eval alike; resuming sets the damaged one aside
(kept, not deleted) so the run can save that step again."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mimicjax.train.checkpoint import (
    DAMAGED_SUFFIX, CheckpointUnreadable, Checkpoints, newest_loadable, read_config, read_metadata,
)


def truncate_data(step_dir):
    """Cut the array data files of a checkpoint in half, as a full disk or an interrupted copy would."""
    for file in (step_dir / "state").rglob("*"):
        if file.is_file() and file.parent.name == "d":
            file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def weights(step):
    return np.random.default_rng(step).normal(size=4096).astype(np.float32)  # incompressible


def dummy_run(folder, steps=(1, 2)):
    with Checkpoints(folder, max_to_keep=None, async_save=False) as checkpoints:
        for step in steps:
            checkpoints.save(step, {"w": weights(step)}, config={"step": step},
                             metadata={"env_steps": 10 * step})
    return folder


TARGET = {"w": np.zeros((4096,), np.float32)}


@pytest.mark.parametrize("damage", ["truncated data", "missing state item", "missing config item"])
def test_the_newest_readable_checkpoint_is_used_with_one_warning(tmp_path, capsys, damage):
    folder = dummy_run(tmp_path / "checkpoints")
    if damage == "truncated data":
        truncate_data(folder / "2")
    else:
        shutil.rmtree(folder / "2" / ("state" if "state" in damage else "config"))
    with Checkpoints(folder, max_to_keep=None, async_save=False) as checkpoints:
        def load(step):
            return checkpoints.restore(step, target=TARGET), checkpoints.config(step)

        step, (state, config), damaged = newest_loadable(checkpoints, load)
    assert step == 1 and damaged == [2] and config == {"step": 1}
    np.testing.assert_array_equal(state["w"], weights(1))
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "checkpoint 2" in warning[0] and "using the previous one" in warning[0]
    if damage == "missing config item":
        assert read_config(folder) == {"step": 1} and read_metadata(folder)["env_steps"] == 20


def test_when_nothing_reads_every_checkpoint_is_named(tmp_path):
    folder = dummy_run(tmp_path / "checkpoints")
    for step in (1, 2):
        truncate_data(folder / str(step))
    with Checkpoints(folder, max_to_keep=None, async_save=False) as checkpoints:
        with pytest.raises(CheckpointUnreadable, match=r"checkpoint 2: .*\n  checkpoint 1: "):
            newest_loadable(checkpoints, lambda step: checkpoints.restore(step, target=TARGET))


def test_resume_sets_the_damaged_checkpoint_aside_and_saves_that_step_again(tmp_path, capsys):
    from mimicjax.train.loop import restore_newest

    folder = dummy_run(tmp_path / "checkpoints")
    truncate_data(folder / "2")
    with Checkpoints(folder, max_to_keep=2, async_save=False) as checkpoints:
        step, state, metadata = restore_newest(checkpoints, TARGET)
        assert step == 1 and metadata["env_steps"] == 10 and checkpoints.all_steps() == [1]
        checkpoints.save(2, {"w": weights(7)}, config={"step": 2})
        checkpoints.save(3, {"w": weights(8)}, config={"step": 3})
        assert checkpoints.all_steps() == [2, 3]
    assert (folder / f"2{DAMAGED_SUFFIX}").is_dir()  # kept for inspection, never deleted by keep-last-N
    assert f"2{DAMAGED_SUFFIX}" in capsys.readouterr().out


def test_eval_of_a_run_with_a_damaged_newest_checkpoint_uses_the_previous_one(teacher_dir, tmp_path, capsys):
    from mimicjax.eval.rollout import load_policy

    run = tmp_path / "teacher"
    shutil.copytree(teacher_dir, run)
    shutil.copytree(run / "checkpoints" / "0", run / "checkpoints" / "5")
    truncate_data(run / "checkpoints" / "5")
    policy = load_policy(run)
    assert policy.step == 0 and policy.kind == "teacher"
    assert "checkpoint 5" in capsys.readouterr().err
    assert (run / "checkpoints" / "5").is_dir()  # eval changes nothing in the run
