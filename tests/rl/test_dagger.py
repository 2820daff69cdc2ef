"""DAgger pieces: the beta schedule, per-env action mixing, and regression onto the teacher."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.rl import dagger
from mimicjax.rl import networks as nets

CONFIG = dagger.DAggerConfig(beta_decay_iterations=100, epochs=4, minibatches=4, learning_rate=3e-3)


def test_beta_decays_from_one_to_zero():
    betas = [float(dagger.beta_schedule(i, CONFIG)) for i in (0, 25, 50, 100, 1000)]
    assert betas == pytest.approx([1.0, 0.75, 0.5, 0.0, 0.0])
    assert float(jax.jit(dagger.beta_schedule, static_argnums=1)(jnp.int32(50), CONFIG)) == pytest.approx(0.5)


def test_mixed_action_picks_whole_actions_per_env():
    teacher, student = jnp.ones((2000, 3)), -jnp.ones((2000, 3))
    rng = jax.random.key(0)
    np.testing.assert_array_equal(dagger.mixed_action(rng, 1.0, teacher, student), teacher)
    np.testing.assert_array_equal(dagger.mixed_action(rng, 0.0, teacher, student), student)
    mixed = dagger.mixed_action(rng, 0.3, teacher, student)
    assert bool(jnp.all(jnp.abs(mixed.sum(-1)) == 3))  # no env mixes teacher and student entries
    assert float(jnp.mean(mixed[:, 0] > 0)) == pytest.approx(0.3, abs=0.04)
    with pytest.raises(ValueError, match="differ in shape"):
        dagger.mixed_action(rng, 0.5, teacher, student[:, :2])


def make_student(obs_size=6, action_size=3):
    actor = nets.GaussianActor(action_size=action_size, hidden_sizes=(32,), output_scale=0.01)
    return jax.jit(dagger.init_student_state, static_argnums=(1, 2, 3))(jax.random.key(0), actor, obs_size, CONFIG)


def test_dagger_loss_weights_samples():
    student = make_student()
    obs = jnp.zeros((4, 6))
    mean = jax.jit(dagger.student_mean_action)(student, obs)
    teacher = mean + jnp.array([[1.0], [1.0], [3.0], [3.0]])  # squared errors 1, 1, 9, 9 per entry
    batch = {"obs": obs, "teacher_action": teacher}
    loss = jax.jit(dagger.dagger_loss)
    assert float(loss(student.params, batch, student)) == pytest.approx(5.0, rel=1e-5)
    weighted = {**batch, "weight": jnp.array([1.0, 1.0, 0.0, 0.0])}
    assert float(loss(student.params, weighted, student)) == pytest.approx(1.0, rel=1e-5)


def test_dagger_update_fits_a_teacher():
    student = make_student()
    w = jax.random.normal(jax.random.key(1), (6, 3))
    obs = 3.0 + 2.0 * jax.random.normal(jax.random.key(2), (8, 64, 6))  # [T, N, obs]: needs normalising
    batch = {"obs": obs, "teacher_action": 0.3 * ((obs - 3.0) / 2.0) @ w}
    update = jax.jit(dagger.dagger_update, static_argnums=2)
    losses = [float(dagger.dagger_loss(student.params, batch, student))]
    for _ in range(15):
        student, metrics = update(student, batch, CONFIG)
        losses.append(float(metrics["dagger_loss"]))
    assert int(student.iteration) == 15 and float(student.obs_stats.count) == 15 * 8 * 64
    assert losses[-1] < 0.1 * losses[0], losses


def test_dagger_batch_errors_are_clear():
    student = make_student()
    with pytest.raises(ValueError, match="teacher_action"):
        dagger.dagger_update(student, {"obs": jnp.zeros((8, 6))}, CONFIG)
    with pytest.raises(ValueError, match="size 5"):
        dagger.dagger_update(student, {"obs": jnp.zeros((8, 5)), "teacher_action": jnp.zeros((8, 3))}, CONFIG)
