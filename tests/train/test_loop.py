"""The training loop on the smoke experiment: end to end, exact resume, logs, checkpoints, NaN guard."""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

from mimicjax import cli
from mimicjax import config as config_lib
from mimicjax.train import loop
from mimicjax.train.checkpoint import Checkpoints
from mimicjax.train.run_log import read_event_scalars, read_jsonl
from mimicjax import robots
from tests.conftest import PROJECT_ROOT

SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"


def smoke_config(iterations: int):
    config = config_lib.load_experiment(SMOKE)
    return config_lib.apply_overrides(config, [f"train.iterations={iterations}"])


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """Four iterations in one go."""
    run_dir = tmp_path_factory.mktemp("straight")
    run = loop.train(smoke_config(4), run_dir, show_progress=False)
    return run_dir, run


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory, straight_run):
    """Two iterations, stop, then resume to four: through the command line, as a user would."""
    run_dir = tmp_path_factory.mktemp("resumed")
    base = ["train", "--config", str(SMOKE), "--run-dir", str(run_dir)]
    assert cli.main(base + ["--set", "train.iterations=2"]) == 0
    first_steps = Checkpoints(run_dir / "checkpoints").all_steps()
    assert cli.main(base + ["--set", "train.iterations=4", "--resume"]) == 0
    return run_dir, first_steps


def test_smoke_experiment_trains_end_to_end(straight_run):
    run_dir, run = straight_run
    assert run.env_steps == 4 * run.config.train.num_envs * run.config.train.rollout_steps
    assert int(run.train_state.iteration) > 0
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(jax.device_get(run.train_state.params)))
    assert (run_dir / "config.json").is_file()


def test_resuming_gives_the_same_parameters_as_training_straight(straight_run, resumed_run):
    straight_dir, _ = straight_run
    resumed_dir, first_steps = resumed_run
    assert max(first_steps) == 2
    template = loop.checkpoint_state(straight_run[1])
    straight = Checkpoints(straight_dir / "checkpoints").restore(4, target=template)
    resumed = Checkpoints(resumed_dir / "checkpoints").restore(4, target=template)
    for a, b in zip(jax.tree.leaves(straight["train"].params), jax.tree.leaves(resumed["train"].params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(
        np.asarray(straight["rollout"].env_state.data.qpos), np.asarray(resumed["rollout"].env_state.data.qpos)
    )


def test_the_adaptive_start_sampler_is_trained_checkpointed_and_resumed_exactly(straight_run, resumed_run):
    straight_dir, run = straight_run
    template = loop.checkpoint_state(run)
    straight = Checkpoints(straight_dir / "checkpoints").restore(4, target=template)["rollout"].sampler
    resumed = Checkpoints(resumed_run[0] / "checkpoints").restore(4, target=template)["rollout"].sampler
    assert straight is not None and float(np.sum(straight.visits)) > 0
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    scalars = read_event_scalars(resumed_run[0])
    for tag in ("sampler/entropy", "sampler/max_prob", "sampler/failure_rate"):
        assert sorted(step for step, _ in scalars[tag]) == [1, 2, 3, 4], tag


def test_scalars_cover_every_iteration_with_reward_and_symmetry_terms(resumed_run):
    run_dir, _ = resumed_run
    scalars = read_event_scalars(run_dir)
    keypoint_tags = [tag for tag in scalars if "keypoint" in tag]
    symmetry_tags = [tag for tag in scalars if "symmetry" in tag]
    assert keypoint_tags and symmetry_tags
    for tag in keypoint_tags[:3] + symmetry_tags:
        assert sorted(step for step, _ in scalars[tag]) == [1, 2, 3, 4], tag
    assert Checkpoints(run_dir / "checkpoints").latest_step() == 4


def test_a_run_directory_is_not_overwritten_or_resumed_by_accident(straight_run, tmp_path):
    run_dir, _ = straight_run
    with pytest.raises(config_lib.ConfigError, match="already holds a run; pass --resume"):
        loop.train(smoke_config(4), run_dir, show_progress=False)
    with pytest.raises(config_lib.ConfigError, match="nothing to resume"):
        loop.train(smoke_config(4), tmp_path, resume=True, show_progress=False)


def test_non_finite_losses_stop_the_run_and_keep_the_last_good_checkpoint(straight_run, tmp_path, monkeypatch):
    run_dir, _ = straight_run
    build_run = loop.build_run

    def diverging_build_run(config, library):
        run = build_run(config, library)
        iterate = run.iteration_fn

        def iteration_with_nan(train_state, rollout_state):
            train_state, rollout_state, metrics = iterate(train_state, rollout_state)
            return train_state, rollout_state, {**metrics, "ppo/value_loss": np.float32("nan")}

        return dataclasses.replace(run, iteration_fn=iteration_with_nan)

    monkeypatch.setattr(loop, "build_run", diverging_build_run)
    with pytest.raises(loop.TrainingDiverged, match=r"non-finite ppo/value_loss at iteration 5.*checkpoint 4"):
        loop.train(smoke_config(6), run_dir, resume=True, show_progress=False)
    assert Checkpoints(run_dir / "checkpoints").latest_step() == 4


def test_a_time_limit_stops_with_a_checkpoint_that_resumes(tmp_path, capsys):
    config = config_lib.apply_overrides(smoke_config(3), ["train.max_minutes=1e-9", "train.checkpoint_every=10"])
    run = loop.train(config, tmp_path, show_progress=False)
    assert run.env_steps == config.train.num_envs * config.train.rollout_steps  # one iteration, then out of time
    assert Checkpoints(tmp_path / "checkpoints").latest_step() == 1
    assert "max_minutes" in capsys.readouterr().out
    rows = read_jsonl(tmp_path / "scalars.jsonl")
    assert rows[0]["perf/first_iteration_s"] > 0
    resumed = loop.train(config_lib.apply_overrides(config, ["train.max_minutes=0"]), tmp_path, resume=True, show_progress=False)
    assert resumed.env_steps == 3 * config.train.num_envs * config.train.rollout_steps
    # The change is said, recorded in the resolved config and in TensorBoard at the iteration it took effect.
    assert "resuming at iteration 1 with: train.max_minutes: 1e-09 -> 0.0" in capsys.readouterr().out
    assert json.loads((tmp_path / "config.json").read_text())["train"]["max_minutes"] == 0.0


def test_a_negative_time_limit_is_refused():
    with pytest.raises(ValueError, match="train.max_minutes"):
        config_lib.TrainConfig(max_minutes=-1.0)


def test_overrides_are_checked_against_the_config():
    config = smoke_config(2)
    assert config_lib.apply_overrides(config, ["ppo.learning_rate=3e-4"]).ppo.learning_rate == 3e-4
    assert config_lib.apply_overrides(config, ["train.num_envs=16"]).train.num_envs == 16
    with pytest.raises(config_lib.ConfigError, match="unknown config field 'ppo.learnin_rate'.*learning_rate"):
        config_lib.apply_overrides(config, ["ppo.learnin_rate=1"])
    with pytest.raises(config_lib.ConfigError, match="train.num_envs='many': expected int"):
        config_lib.apply_overrides(config, ["train.num_envs=many"])
    with pytest.raises(config_lib.ConfigError, match="not of the form"):
        config_lib.apply_overrides(config, ["ppo.learning_rate"])


def test_config_round_trips_through_json():
    config = smoke_config(3)
    assert config_lib.from_dict(config_lib.ExperimentConfig, config_lib.to_dict(config)) == config


def test_missing_experiment_and_motion_files_are_clear_errors(tmp_path):
    with pytest.raises(config_lib.ConfigError, match="experiment file not found"):
        config_lib.load_experiment(tmp_path / "nope.py")
    bad = tmp_path / "bad.py"
    bad.write_text("CONFIG = 3\n")
    with pytest.raises(config_lib.ConfigError, match="must define CONFIG = ExperimentConfig"):
        config_lib.load_experiment(bad)
    config = config_lib.apply_overrides(smoke_config(1), [f"motions.library='{tmp_path / 'missing.npz'}'"])
    with pytest.raises(config_lib.ConfigError, match="motion library not found.*mimicjax retarget"):
        loop.load_motions(config)


def test_a_short_cpu_run_learns_to_track_one_motion(tmp_path):
    """On one squat clip, 40 PPO iterations raise the mean reward per step clearly."""
    from mimicjax.motion import library as library_lib

    samples = library_lib.load_library(loop.sample_library_path("g1_23dof"))
    squat = library_lib.build_library([library_lib.clip_motion(samples, 2)], robots.get("g1_23dof"), names=["squat"])
    config = config_lib.apply_overrides(smoke_config(40), [
        "train.num_envs=32", "train.rollout_steps=16", "train.checkpoint_every=1000", "motions.mirror=False",
    ])
    history = []
    loop.train(config, tmp_path, library=squat, show_progress=False,
               on_iteration=lambda i, m: history.append((float(m["reward/mean"]), float(m["env/reward/keypoint"]))))
    first, last = np.mean(history[:5], axis=0), np.mean(history[-5:], axis=0)
    assert last[0] > first[0] + 0.3, f"mean reward per step went from {first[0]:.3f} to {last[0]:.3f}"
    assert last[1] > first[1] - 0.02, f"keypoint tracking reward fell from {first[1]:.3f} to {last[1]:.3f}"


def test_resume_applies_reward_and_rate_changes_from_the_iteration_it_resumes(straight_run, tmp_path, capsys):
    """`--resume --set env.rewards.keypoint=2.0 --set ppo.learning_rate=...`: the resolved config says so,
    and the rate, which the KL-adaptive rule keeps in the train state, restarts from the requested one: after
    one update it lies within the rule's reach of the request (x1.5 or /2 per minibatch step), far from the
    rate the run had."""
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(straight_run[0], run_dir)
    config = straight_run[1].config.ppo
    old = read_jsonl(run_dir / "scalars.jsonl")[-1]["ppo/learning_rate"]
    rate = old * 100 if old * 100 <= config.max_learning_rate else old / 100
    assert cli.main(["train", "--config", str(SMOKE), "--run-dir", str(run_dir), "--resume", "--set", "train.iterations=5",
                     "--set", "env.rewards.keypoint=2.0", "--set", f"ppo.learning_rate={rate!r}"]) == 0
    out = capsys.readouterr().out
    assert "resuming at iteration 4 with:" in out and "env.rewards.keypoint: 1.0 -> 2.0" in out
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["env"]["rewards"]["keypoint"] == 2.0 and saved["ppo"]["learning_rate"] == rate
    assert config_lib.from_dict(config_lib.ExperimentConfig, Checkpoints(run_dir / "checkpoints").config(5)).env.rewards.keypoint == 2.0
    last = read_jsonl(run_dir / "scalars.jsonl")[-1]
    steps = config.epochs * config.minibatches
    reach = (rate * config.lr_decrease_factor**steps, rate * config.lr_increase_factor**steps)
    assert last["step"] == 5 and reach[0] * 0.999 <= last["ppo/learning_rate"] <= reach[1] * 1.001
    assert not reach[0] <= old <= reach[1]  # the old rate would not pass
