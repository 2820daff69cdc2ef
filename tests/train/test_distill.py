"""Distillation with DAgger, end to end from a tiny teacher run: checkpoints, scalars, resume, learning.

The runs are shared with the evaluation tests (tests/eval/tiny_runs.py): one DAgger iteration compile
per session.
"""

from __future__ import annotations

import dataclasses
import math
import shutil

import numpy as np
import pytest

from mimicjax import config as config_lib


def test_distill_leaves_checkpoints_config_and_dagger_scalars(student):
    from mimicjax.train import runs
    from mimicjax.train.checkpoint import read_metadata
    from mimicjax.train.run_log import read_event_scalars, read_jsonl

    checkpoints = student.run_dir / "checkpoints"
    assert sorted(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit()) == [1, 2]
    meta = read_metadata(checkpoints)
    assert meta["policy"] == "student" and meta["iteration"] == 2
    assert meta["teacher_dir"] == str(student.teacher_dir.absolute()) and meta["teacher_step"] == 0
    assert meta["env_steps"] == 2 * student.config.train.num_envs * student.config.distill.rollout_steps
    assert runs.run_policy(student.run_dir) == "student" and runs.run_policy(student.teacher_dir) == "teacher"
    assert runs.read_run_config(student.run_dir) == student.config
    assert (student.run_dir / "config.json").is_file()

    # Evaluation may have added its own rows (eval/...) to the same run; look at the training rows.
    records = [r for r in read_jsonl(student.run_dir / "scalars.jsonl") if "dagger/loss" in r]
    assert [r["step"] for r in records] == [1, 2]
    for record in records:
        assert any("dagger" in tag for tag in record)
        # beta falls linearly from 1 over beta_decay_iterations (logged before each iteration's update)
        expected_beta = max(0.0, 1.0 - (record["step"] - 1) / student.config.distill.dagger.beta_decay_iterations)
        assert math.isfinite(record["dagger/loss"]) and record["dagger/beta"] == pytest.approx(expected_beta, abs=0.01)
        assert math.isfinite(record["env/error/keypoint"]) and record["perf/env_steps_per_s"] > 0
    events = read_event_scalars(student.run_dir)
    assert [step for step, _ in events["dagger/loss"]] == [1, 2]


def test_distill_resumes_exactly(student, tmp_path):
    import jax

    from mimicjax.train import distill

    run_dir = tmp_path / "student"
    shutil.copytree(student.run_dir, run_dir)
    # What the run would do next, from the in-memory states after its 2 iterations.
    expected, _, _ = student.run.iteration_fn(student.run.student_state, student.run.teacher_state, student.run.rollout_state)

    config = dataclasses.replace(student.config, distill=dataclasses.replace(student.config.distill, iterations=3))
    blank = dataclasses.replace(student.initial)  # reuse the compiled iteration; states come from checkpoint 2
    resumed = distill.distill(config, run_dir, resume=True, run=blank, show_progress=False)
    assert int(resumed.student_state.iteration) == 3 and resumed.env_steps == 3 * 4 * 8
    assert resumed.teacher_dir == str(student.teacher_dir.absolute())
    jax.tree.map(np.testing.assert_array_equal, resumed.student_state.params, expected.params)
    assert (run_dir / "checkpoints" / "3").is_dir()

    with pytest.raises(ValueError, match="already holds a run"):
        distill.distill(config, run_dir, teacher_dir=student.teacher_dir, run=blank, show_progress=False)
    with pytest.raises(ValueError, match="nothing to resume"):
        distill.distill(config, tmp_path / "empty", resume=True, run=blank, show_progress=False)


def test_distill_honours_the_time_limit_of_the_shared_loop(student, tmp_path, capsys):
    """`train.max_minutes` stops a distillation as it stops a PPO run: one loop serves both."""
    from mimicjax.train import distill
    from mimicjax.train.checkpoint import Checkpoints

    config = config_lib.apply_overrides(student.config, ["distill.iterations=3", "train.max_minutes=1e-9",
                                                         "train.checkpoint_every=10"])
    run = distill.distill(config, tmp_path / "student", teacher_dir=student.teacher_dir,
                          run=dataclasses.replace(student.initial), show_progress=False)
    assert run.env_steps == 4 * 8  # one iteration, then out of time, with a checkpoint to resume from
    assert Checkpoints(tmp_path / "student" / "checkpoints").latest_step() == 1
    assert "max_minutes" in capsys.readouterr().out


def test_dagger_loss_decreases_on_a_fixed_teacher(student):
    """The learning signal: the student's regression loss onto the same teacher falls over iterations."""
    run = student.initial
    state, rollout = run.student_state, run.rollout_state
    losses = []
    for _ in range(8):
        state, rollout, metrics = run.iteration_fn(state, run.teacher_state, rollout)
        losses.append(float(metrics["dagger/loss"]))
    assert all(math.isfinite(loss) for loss in losses)
    assert np.mean(losses[-2:]) < 0.5 * losses[0], losses


def test_distill_config_comes_from_the_teacher_and_guards_it(teacher_dir, student):
    from mimicjax.config import ConfigError
    from mimicjax.train import distill

    from tests.eval.tiny_runs import teacher_config

    teacher = teacher_config()
    config = distill.resolve_config(teacher_dir, overrides=["distill.iterations=7"])
    assert config.env == teacher.env and config.network == teacher.network and config.distill.iterations == 7
    experiment = dataclasses.replace(teacher, name="students", distill=dataclasses.replace(teacher.distill, iterations=9))
    config = distill.resolve_config(teacher_dir, experiment, ["seed=3"])
    assert (config.name, config.distill.iterations, config.seed) == ("students", 9, 3)

    with pytest.raises(ConfigError, match="network differs"):
        distill.resolve_config(teacher_dir, overrides=["network.actor_hidden_sizes=(32,)"])
    with pytest.raises(ConfigError, match="env.observations"):
        distill.resolve_config(teacher_dir, overrides=["env.observations.goal_offsets=(0.0, 0.2)"])
    with pytest.raises(ConfigError, match="student run"):
        distill.resolve_config(student.run_dir)
    with pytest.raises(ConfigError, match="holds no checkpoint"):
        distill.resolve_config(teacher_dir.parent / "missing")
    with pytest.raises(ConfigError, match="minibatches"):
        distill.check_batch(dataclasses.replace(config, distill=dataclasses.replace(
            config.distill, rollout_steps=3, dagger=dataclasses.replace(config.distill.dagger, minibatches=5))), 1)


def test_the_beta_schedule_must_hand_over_inside_the_run(teacher_dir, tmp_path):
    from mimicjax.config import ConfigError
    from mimicjax.train import distill

    config = distill.resolve_config(teacher_dir, overrides=["distill.iterations=150", "distill.dagger.beta_decay_iterations=1000"])
    with pytest.raises(ConfigError, match="beta_decay_iterations.*1000.*exceeds distill.iterations.*150"):
        distill.distill(config, tmp_path / "late", teacher_dir=teacher_dir, show_progress=False)
    assert not (tmp_path / "late").exists()  # refused before anything was built or written
    distill.check_beta_schedule(dataclasses.replace(config.distill, iterations=1000))


def test_non_finite_loss_stops_the_run(tmp_path):
    from mimicjax.train import distill
    from mimicjax.train.loop import TrainingDiverged

    distill.check_finite({"dagger/loss": 0.1, "dagger/grad_norm": 1.0, "episode/return": float("nan")}, 0, None, tmp_path)
    with pytest.raises(TrainingDiverged, match="dagger/loss at distillation iteration 4.*checkpoint 3"):
        distill.check_finite({"dagger/loss": float("nan"), "dagger/grad_norm": 1.0}, 3, 3, tmp_path)
