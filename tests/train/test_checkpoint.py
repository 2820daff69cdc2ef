"""Checkpoints: bit-exact round trips of the full training state, keep-last-N, crash safety."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl import networks as nets
from mimicjax.rl import ppo
from mimicjax.rl.rollout import init_rollout_state
from mimicjax.train import checkpoint
from tests.rl.toy_env import PointMassEnv

ENV = PointMassEnv()
CONFIG = ppo.PPOConfig(minibatches=2)


@pytest.fixture(scope="module")
def full_state():
    networks = nets.make_actor_critic(
        ENV.observation_size, ENV.action_size, nets.NetworkConfig(actor_hidden_sizes=(8,), critic_hidden_sizes=(8,))
    )
    train_state = jax.jit(ppo.init_train_state, static_argnums=(1, 2))(jax.random.key(0), networks, CONFIG)
    # Non-trivial optimiser moments and statistics, so that a mix-up of leaves would show.
    train_state = train_state.replace(
        opt_state=jax.tree.map(lambda x: x + 0.125 if jnp.issubdtype(x.dtype, jnp.floating) else x + 3,
                               train_state.opt_state),
        iteration=jnp.int32(17),
    )
    return {
        "train": train_state,
        "rollout": jax.jit(init_rollout_state, static_argnums=(0, 2))(ENV, jax.random.key(1), 4),
        "sampler": {"weights": jnp.linspace(0.0, 1.0, 5), "updates": jnp.uint32(4_000_000_000)},
        "other_key": jax.random.key(7, impl="rbg"),
        "half": jnp.arange(3, dtype=jnp.bfloat16) / 3,
    }


def assert_identical(restored, original):
    assert jax.tree.structure(restored) == jax.tree.structure(original)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(original)):
        assert a.dtype == b.dtype and a.shape == b.shape
        if jnp.issubdtype(b.dtype, jax.dtypes.prng_key):
            assert jax.random.key_impl(a) == jax.random.key_impl(b)
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_round_trip_is_bit_exact(tmp_path, full_state):
    with checkpoint.Checkpoints(tmp_path) as ckpt:
        ckpt.save(17, full_state, config=CONFIG, metadata={"env_steps": 17 * 1024, "git": "abc"})
    for target in (jax.eval_shape(lambda: full_state), full_state):
        assert_identical(checkpoint.restore(tmp_path, target=target), full_state)
    config = checkpoint.read_config(tmp_path)
    assert config["minibatches"] == 2 and config["value_clip_eps"] is None
    assert checkpoint.read_metadata(tmp_path, 17) == {"env_steps": 17 * 1024, "git": "abc"}
    # The PRNG stream continues where it left off.
    restored = checkpoint.restore(tmp_path, target=full_state)
    np.testing.assert_array_equal(
        jax.random.key_data(jax.random.split(restored["train"].rng)),
        jax.random.key_data(jax.random.split(full_state["train"].rng)),
    )


def test_keeps_the_last_n(tmp_path, full_state):
    small = {"x": jnp.zeros(3), "key": jax.random.key(0)}
    with checkpoint.Checkpoints(tmp_path, max_to_keep=2) as ckpt:
        for step in range(5):
            ckpt.save(step, {**small, "x": small["x"] + step})
        ckpt.wait()
        assert ckpt.all_steps() == [3, 4]
    assert checkpoint.latest_step(tmp_path) == 4
    assert float(checkpoint.restore(tmp_path, step=3, target=small)["x"][0]) == 3.0
    with pytest.raises(FileNotFoundError, match=r"available: \[3, 4\]"):
        checkpoint.restore(tmp_path, step=1, target=small)


def test_missing_folder_is_a_clear_error(tmp_path):
    assert checkpoint.latest_step(tmp_path / "nothing") is None
    with pytest.raises(FileNotFoundError, match="nothing"):
        checkpoint.restore(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="no finished checkpoint"):
        checkpoint.restore(tmp_path)


def test_a_stray_temporary_folder_is_ignored(tmp_path):
    state = {"x": jnp.arange(4.0)}
    with checkpoint.Checkpoints(tmp_path) as ckpt:
        ckpt.save(1, state)
    stray = tmp_path / "9.orbax-checkpoint-tmp-1700000000000000"  # what a crash mid-save leaves
    (stray / "state").mkdir(parents=True)
    (stray / "state" / "half_written").write_bytes(b"\x00" * 10)
    assert checkpoint.latest_step(tmp_path) == 1
    np.testing.assert_array_equal(checkpoint.restore(tmp_path, target=state)["x"], state["x"])


def test_an_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    from orbax.checkpoint._src.path import atomicity

    state = {"x": jnp.arange(4.0)}
    with checkpoint.Checkpoints(tmp_path, async_save=False) as ckpt:
        ckpt.save(1, state)

    async def crash(self, *args, **kwargs):
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", crash)
    with pytest.raises(KeyboardInterrupt):
        with checkpoint.Checkpoints(tmp_path, async_save=False) as ckpt:
            ckpt.save(2, {"x": state["x"] + 100})
    monkeypatch.undo()
    assert any(".orbax-checkpoint-tmp" in p.name for p in tmp_path.iterdir())  # the unfinished write
    assert checkpoint.latest_step(tmp_path) == 1
    np.testing.assert_array_equal(checkpoint.restore(tmp_path, target=state)["x"], state["x"])
    with checkpoint.Checkpoints(tmp_path) as ckpt:  # and the run can go on saving
        ckpt.save(2, {"x": state["x"] + 1})
    assert checkpoint.latest_step(tmp_path) == 2


def test_config_json_handles_nested_dataclasses_and_refuses_unknown_objects(tmp_path):
    data = checkpoint.to_json_data({"ppo": CONFIG, "sizes": (1, 2), "lr": np.float32(0.5), "bad": float("nan")})
    assert json.loads(json.dumps(data))["ppo"]["epochs"] == CONFIG.epochs
    assert data["sizes"] == [1, 2] and data["lr"] == 0.5 and data["bad"] == "nan"
    with pytest.raises(TypeError, match="object"):
        checkpoint.to_json_data({"x": object()})
    with checkpoint.Checkpoints(tmp_path) as ckpt, pytest.raises(ValueError, match="reserved"):
        ckpt.save(0, {"x": jnp.zeros(1)}, metadata={"_prng_key_impls": 1})
