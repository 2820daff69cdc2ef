"""Bad config values are refused when the config is built, from any source, naming the field.

Part of the bad-input catalogue: each case is one a user met (a lost run, a late or raw failure); none
of them compiles anything.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from mimicjax import cli
from mimicjax import config as config_lib
from tests.conftest import PROJECT_ROOT

SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"


@pytest.mark.parametrize("override, message", [
    ("train.keep_checkpoints=0", "train.keep_checkpoints must be a whole number >= 1, got 0"),
    ("train.checkpoint_every=0", "train.checkpoint_every must be a whole number >= 1"),
    ("train.num_envs=-8", "train.num_envs must be a whole number >= 1, got -8"),
    ("train.iterations=0", "train.iterations must be a whole number >= 1"),
    ("train.rollout_steps=0", "train.rollout_steps must be a whole number >= 1"),
    ("distill.iterations=0", "distill.iterations must be a whole number >= 1"),
    ("train.num_envs=True", "train.num_envs='True': expected int, got bool"),
    ("ppo.learning_rate=1e999", "ppo.learning_rate='1e999': not a finite number"),
    ("env.rewards.keypoint=-1e999", "env.rewards.keypoint='-1e999': not a finite number"),
])
def test_overrides_that_would_lose_or_poison_a_run_are_refused(override, message):
    with pytest.raises(config_lib.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_lib.apply_overrides(config_lib.load_experiment(SMOKE), [override])


def test_values_from_an_experiment_file_are_checked_too(tmp_path):
    experiment = tmp_path / "bad.py"
    experiment.write_text("from mimicjax.config import ExperimentConfig, TrainConfig\n"
                          "CONFIG = ExperimentConfig(train=TrainConfig(keep_checkpoints=0))\n")
    with pytest.raises(config_lib.ConfigError, match="keep_checkpoints must be a whole number >= 1"):
        config_lib.load_experiment(experiment)
    with pytest.raises(config_lib.ConfigError, match="ppo.learning_rate=inf is not a finite number"):
        config = config_lib.load_experiment(SMOKE)
        dataclasses.replace(config, ppo=dataclasses.replace(config.ppo, learning_rate=float("inf")))


def test_a_refused_value_stops_train_before_anything_is_written(tmp_path, capsys):
    run_dir = tmp_path / "run"
    status = cli.main(["train", "--config", str(SMOKE), "--run-dir", str(run_dir), "--set", "train.keep_checkpoints=0"])
    assert status == 2
    err = capsys.readouterr().err
    assert "train.keep_checkpoints must be a whole number >= 1" in err and "Traceback" not in err
    assert not run_dir.exists()


def test_every_saved_config_is_plain_json():
    text = json.dumps(config_lib.to_dict(config_lib.load_experiment(SMOKE)), allow_nan=False)  # no NaN/inf
    assert config_lib.from_dict(config_lib.ExperimentConfig, json.loads(text)) == config_lib.load_experiment(SMOKE)


@pytest.mark.parametrize("override, message", [
    ("env.observations.goal_offsets=(0.0,'a')", "expected tuple[float, ...], got tuple (0.0, 'a')"),
    ("network.actor_hidden_sizes=(256,2.5)", "expected tuple[int, ...]"),
    ("env.rewards.keypoint_group_weights=((1,2),)", "expected tuple[tuple[str, float], ...] | None"),
    ("env.rewards.keypoint_group_weights.hands=3", "the group 'hands', which the robot does not have; groups: "
                                                   "['end_effector', 'lower', 'upper']"),
    ("env.rewards.keypoint_weight_overrides=(('nose',1.0),)", "names 'nose', which is not a keypoint; keypoints: "),
    ("env.rewards.keypoint_group_weights.upper.x=1", "deeper than one key of a mapping"),
    ("env.rewards.keypoint_group_weights.upper=1e999", "not a finite number"),
    ("env.observations.goal_offsets=(0.0,1e999)", "holds a number that is not finite"),
])
def test_tuples_are_checked_element_by_element_and_names_against_the_robot(override, message):
    with pytest.raises(config_lib.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace("|", r"\|").replace(".", r"\.")):
        config_lib.apply_overrides(config_lib.load_experiment(SMOKE), [override])


def test_mapping_fields_take_one_key_or_a_dict():
    base = config_lib.load_experiment(SMOKE)
    one = config_lib.apply_overrides(base, ["env.rewards.keypoint_group_weights.end_effector=3"])
    assert one.env.rewards.keypoint_group_weights == (("end_effector", 3.0),)  # the others keep the robot's
    both = config_lib.apply_overrides(one, ["env.rewards.keypoint_group_weights.upper=0.5",
                                            "env.rewards.keypoint_group_weights.end_effector=4"])
    assert both.env.rewards.keypoint_group_weights == (("end_effector", 4.0), ("upper", 0.5))
    as_dict = config_lib.apply_overrides(base, ["env.rewards.keypoint_group_weights={'end_effector': 4, 'upper': 0.5}"])
    assert as_dict == both
    # Ints where floats are meant read back as floats, so the saved config round-trips equal.
    offsets = config_lib.apply_overrides(base, ["env.observations.goal_offsets=(0, 1)"]).env.observations.goal_offsets
    assert offsets == (0.0, 1.0) and all(isinstance(v, float) for v in offsets)
