"""`--resume` honours what the user asked: each change to the saved config is applied (and said) or
refused naming the field; nothing is silently ignored. None of these builds an env or compiles."""

from __future__ import annotations

import numpy as np
import pytest

from mimicjax import cli
from mimicjax import config as config_lib
from tests.conftest import PROJECT_ROOT

SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"


def smoke(*overrides):
    return config_lib.apply_overrides(config_lib.load_experiment(SMOKE), list(overrides))


def test_safe_changes_are_applied_and_listed():
    saved = smoke()
    requested = smoke("env.rewards.keypoint=2.0", "train.iterations=9", "ppo.learning_rate=3e-4")
    config, changes = config_lib.resume_config(saved, requested, "RUN")
    assert config == requested and config.env.rewards.keypoint == 2.0
    assert {path for path, _, _ in changes} == {"env.rewards.keypoint", "train.iterations", "ppo.learning_rate"}
    assert "env.rewards.keypoint: 1.0 -> 2.0" in config_lib.describe_changes(changes)


@pytest.mark.parametrize("override, field", [
    ("train.num_envs=16", "train.num_envs"),
    ("network.actor_hidden_sizes=(32,)", "network.actor_hidden_sizes"),
    ("env.robot='g1_29dof'", "env.robot"),
    ("motions.library='other.npz'", "motions.library"),
    ("ppo.obs_clip=3.0", "ppo.obs_clip"),
    ("distill.student_network.actor_hidden_sizes=(32,)", "distill.student_network.actor_hidden_sizes"),
])
def test_changes_that_do_not_fit_the_saved_state_are_refused_by_name(override, field):
    assert field in config_lib.flat_fields(config_lib.load_experiment(SMOKE))
    with pytest.raises(config_lib.ConfigError, match=rf"--resume cannot change(.|\n)*  {field}: the run has"):
        config_lib.resume_config(smoke(), smoke(override), "RUN")


def saved_run(run_dir, metadata=None):
    """A run folder with one checkpoint of the smoke config (a stand-in state: refusals come first)."""
    from mimicjax.train.checkpoint import Checkpoints

    with Checkpoints(run_dir / "checkpoints", async_save=False) as checkpoints:
        checkpoints.save(1, {"x": np.zeros(2, np.float32)}, config=config_lib.to_dict(smoke()),
                         metadata={"env_steps": 0, **(metadata or {})})
    return run_dir


@pytest.mark.parametrize("extra, named", [
    (["--set", "train.num_envs=16"], "train.num_envs"),
    (["--motions", "does/not/exist.npz"], "motions.library"),
])
def test_train_resume_refuses_what_it_used_to_ignore(tmp_path, extra, named, capsys):
    run_dir = saved_run(tmp_path / "run")
    status = cli.main(["train", "--config", str(SMOKE), "--run-dir", str(run_dir), "--resume", *extra])
    assert status == 2
    err = capsys.readouterr().err
    assert "--resume cannot change" in err and named in err and "Traceback" not in err


def test_distill_resume_checks_the_same_way(tmp_path):
    from mimicjax.train import distill, runs

    run_dir = saved_run(tmp_path / "student", metadata={runs.POLICY_KEY: runs.STUDENT})
    with pytest.raises(config_lib.ConfigError, match=r"--resume cannot change(.|\n)*distill.student_network"):
        distill.distill(smoke("distill.student_network.actor_hidden_sizes=(32,)"), run_dir, resume=True)
