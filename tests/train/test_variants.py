"""K training variants as one vmapped program (`mimicjax.train.variants`): each variant computes what its
own run computes, resumes, and the sweep uses it where the swept fields allow.

The variants differ in seed, symmetry coefficient, keypoint weighting and a reward weight at once; the
runs step MuJoCo's C engine (the CPU recipe's physics, quick to compile) with 4 envs.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from mimicjax import config as config_lib
from mimicjax.train import loop
from mimicjax.train import sweep as sweep_lib
from mimicjax.train import variants
from mimicjax.train.checkpoint import Checkpoints
from mimicjax.train.run_log import SCALARS_FILE, read_jsonl
from tests.conftest import PROJECT_ROOT

SMOKE = PROJECT_ROOT / "experiments" / "smoke.py"
# Observation normalisation off: a feature that is constant up to float rounding (a body rigidly fixed
# to the pelvis, in the pelvis frame) has a std of ~1e-8, and normalising by it turns rounding-level
# differences between two programs into input differences of order 1 (seen in one row of the first
# layer after two iterations); the variants' normalisers are vmapped like every other state.
BASE = [
    "env.sim.impl='c'", "env.sim.threads=1", "env.randomization.enabled=False",
    "train.num_envs=4", "train.checkpoint_every=1", "ppo.normalize_observations=False",
]
VARIANTS = [
    ["seed=0", "ppo.symmetry_coef=0.5", "env.rewards.keypoint_group_weights={'end_effector': 4.0, 'lower': 0.5}"],
    ["seed=1", "ppo.symmetry_coef=0.0", "env.rewards.keypoint_group_weights={'end_effector': 1.0, 'lower': 1.0}",
     "env.rewards.action_rate=-0.3"],
]


def config(variant: list[str], iterations: int):
    base = config_lib.load_experiment(SMOKE)
    return config_lib.apply_overrides(base, BASE + variant + [f"train.iterations={iterations}"])


@pytest.fixture(scope="module")
def template():
    """A fresh {"train", "rollout"} state: the structure every run's checkpoints restore into."""
    from mimicjax.envs.tracking import TrackingEnv
    from mimicjax.rl import networks as nets

    first = config(VARIANTS[0], 2)
    env = TrackingEnv(first.env, loop.load_motions(first))
    networks = nets.make_actor_critic(env.observation_size, env.action_size, first.network)
    train_state, rollout_state = loop.initial_states(first, env, networks)
    return {"train": train_state, "rollout": rollout_state}


def saved_state(run_dir, template, step):
    with Checkpoints(run_dir / "checkpoints") as checkpoints:
        return checkpoints.restore(step, target=template)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The two variants: one vmapped program for one iteration, resumed to two; and each run alone."""
    root = tmp_path_factory.mktemp("variants")
    together = [root / "together" / f"v{i}" for i in range(len(VARIANTS))]
    alone = [root / "alone" / f"v{i}" for i in range(len(VARIANTS))]
    variants.train_variants([config(v, 1) for v in VARIANTS], together, show_progress=False)
    report = variants.train_variants([config(v, 2) for v in VARIANTS], together, resume=True, show_progress=False)
    for variant, run_dir in zip(VARIANTS, alone):
        loop.train(config(variant, 2), run_dir, show_progress=False)
    return together, alone, report


def test_each_variant_of_one_program_equals_its_own_run(runs, template):
    together, alone, report = runs
    assert report["iterations"] == 1  # the resumed call trained the second iteration
    for i, variant in enumerate(VARIANTS):
        ours, theirs = saved_state(together[i], template, 2), saved_state(alone[i], template, 2)
        for a, b in zip(jax.tree.leaves(ours["train"].params), jax.tree.leaves(theirs["train"].params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5)
        ours_log, theirs_log = read_jsonl(together[i] / SCALARS_FILE), read_jsonl(alone[i] / SCALARS_FILE)
        assert [r["step"] for r in ours_log] == [r["step"] for r in theirs_log] == [1, 2]
        for name in ("reward/mean", "env/reward/action_rate", "env/reward/keypoint", "ppo/symmetry_loss"):
            np.testing.assert_allclose([r[name] for r in ours_log], [r[name] for r in theirs_log], rtol=1e-3, atol=1e-5)
        assert json.loads((together[i] / "config.json").read_text()) == json.loads((alone[i] / "config.json").read_text())


def test_the_variants_really_differ(runs):
    together, _, _ = runs
    first, second = (read_jsonl(d / SCALARS_FILE)[-1] for d in together)
    # Same physics and keypoint errors would give the same raw action-rate term; its weight is 3x.
    assert first["env/reward/action_rate"] != pytest.approx(second["env/reward/action_rate"], rel=0.05)
    assert first["perf/variants"] == 2


def test_only_what_leaves_the_program_unchanged_may_differ():
    same = [config(v, 2) for v in VARIANTS]
    assert set(variants.check_variants(same)) == {
        "seed", "ppo.symmetry_coef", "env.rewards.keypoint_group_weights", "env.rewards.action_rate"}
    other = config_lib.apply_overrides(same[1], ["train.num_envs=8", "network.actor_hidden_sizes=(32,)"])
    with pytest.raises(variants.NotVmappable, match="differ in network.actor_hidden_sizes, train.num_envs, which"):
        variants.check_variants([same[0], other])
    assert variants.shared_config(same).ppo.symmetry_coef == 0.5  # the loss keeps a gradient for the 0.5 variant


def test_a_vmapped_resume_refuses_other_configs_and_runs_at_different_iterations(runs, tmp_path):
    import shutil

    together, _, _ = runs
    swapped = [config(VARIANTS[1], 3), config(VARIANTS[0], 3)]
    with pytest.raises(config_lib.ConfigError, match="trained with other values of seed"):
        variants.train_variants(swapped, together, resume=True, show_progress=False)
    copies = [tmp_path / d.name for d in together]
    for source, copy in zip(together, copies):
        shutil.copytree(source, copy)
    shutil.rmtree(copies[1] / "checkpoints" / "2")
    with pytest.raises(config_lib.ConfigError, match="different iterations"):
        variants.train_variants([config(v, 3) for v in VARIANTS], copies, resume=True, show_progress=False)


def test_the_sweep_trains_vmappable_points_together_and_others_one_by_one(tmp_path):
    base = config_lib.apply_overrides(config_lib.load_experiment(SMOKE), BASE + ["train.iterations=1"])
    grid = {"seed": [0, 1], "ppo.symmetry_coef": [0.0, 0.5]}
    sweep = sweep_lib.make_sweep(base, grid, name="seeds")
    assert [p.name for p in sweep_lib.vmapped_points(sweep.points, tmp_path)] == [p.name for p in sweep.points]
    other = sweep_lib.make_sweep(base, {"train.rollout_steps": [4, 8]}, name="steps")
    assert sweep_lib.vmapped_points(other.points, tmp_path) == []
