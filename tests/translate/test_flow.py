"""Flow matching: schedules and samplers against diffusers' schedulers, and a LoRA training step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.translate.conftest import FAST_COMPILE, random_inputs

torch = pytest.importorskip("torch")


def _velocity_pair(seed=0):
    """The same smooth velocity field in torch and JAX."""
    w = np.random.default_rng(seed).standard_normal((5, 5)).astype(np.float32) * 0.3
    return (lambda x, t: torch.tanh(x @ torch.from_numpy(w)) + t / 1000.0,
            lambda x, t: jnp.tanh(x @ w) + t / 1000.0)


@pytest.mark.parametrize("steps,shift", [(1, 5.0), (2, 1.0), (7, 3.0), (20, 5.0)])
def test_euler_matches_diffusers(steps, shift):
    from diffusers import FlowMatchEulerDiscreteScheduler

    from mimicjax.translate import flow

    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(steps)
    sigmas, timesteps = flow.euler_schedule(steps, shift)
    np.testing.assert_array_equal(sigmas, scheduler.sigmas.numpy())
    np.testing.assert_array_equal(timesteps, scheduler.timesteps.numpy())
    v_torch, v_jax = _velocity_pair()
    x0 = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)
    x = torch.from_numpy(x0)
    for t in scheduler.timesteps:
        x = scheduler.step(v_torch(x, t), t, x).prev_sample
    got = flow.euler_sample(v_jax, jnp.asarray(x0), sigmas, timesteps)
    np.testing.assert_allclose(np.asarray(got), x.numpy(), atol=2e-6, rtol=1e-6)


@pytest.mark.parametrize("steps,shift", [(1, 5.0), (2, 1.0), (3, 5.0), (12, 3.0), (30, 5.0)])
def test_unipc_matches_diffusers(steps, shift):
    from diffusers import UniPCMultistepScheduler

    from mimicjax.translate import flow

    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift)
    scheduler.set_timesteps(steps)
    sigmas, timesteps = flow.unipc_schedule(steps, shift)
    np.testing.assert_array_equal(sigmas, scheduler.sigmas.numpy())
    np.testing.assert_array_equal(timesteps, scheduler.timesteps.numpy())
    v_torch, v_jax = _velocity_pair(2)
    x0 = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    x = torch.from_numpy(x0)
    for t in scheduler.timesteps:
        x = scheduler.step(v_torch(x, t.float()), t, x).prev_sample
    got = flow.unipc_sample(v_jax, jnp.asarray(x0), sigmas, timesteps)
    np.testing.assert_allclose(np.asarray(got), x.numpy(), atol=5e-6, rtol=1e-5)


def test_loss_weighting_and_sigmas():
    from mimicjax.translate import flow

    sigma = flow.sample_training_sigmas(jax.random.PRNGKey(0), 4096, shift=5.0)
    assert 0 < float(sigma.min()) and float(sigma.max()) <= 1.0
    assert float(jnp.median(sigma)) > 0.7  # shift 5 pushes towards noise
    grid = jnp.linspace(0, 1, 10001)
    np.testing.assert_allclose(float(flow.loss_weight(grid, "bell").mean()), 1.0, atol=1e-3)
    assert float(flow.loss_weight(jnp.array(0.5), "bell")) > float(flow.loss_weight(jnp.array(0.05), "bell"))
    with pytest.raises(ValueError):
        flow.loss_weight(grid, "unknown")


def test_lora_training_step_reduces_loss(tiny_model, tiny_params, tiny_config):
    import optax

    from mimicjax.translate import flow
    from mimicjax.translate.lora import LoRAConfig, init_lora

    lora_config = LoRAConfig(rank=4, alpha=4)
    lora = init_lora(tiny_params, lora_config, rng=0)
    model = tiny_model.with_params(lora_scale=lora_config.scale)
    x0, _, context = (jnp.asarray(a) for a in random_inputs(tiny_config, 2, 2, 4, 4, 4, seed=41))
    cond = x0[::-1]
    noise = jax.random.normal(jax.random.PRNGKey(1), x0.shape)
    sigma = jnp.array([0.3, 0.8])
    optimizer = optax.adam(2e-2)

    def loss_fn(lo):
        predict = lambda x_t, t: model.apply(tiny_params, x_t, t, context, condition=cond, lora=lo)
        return flow.flow_matching_loss(predict, x0, noise, sigma, weighting="bell")

    @jax.jit(compiler_options=FAST_COMPILE)
    def train_step(lo, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(lo)
        updates, opt_state = optimizer.update(grads, opt_state, lo)
        return optax.apply_updates(lo, updates), opt_state, loss

    state = optimizer.init(lora)
    losses = []
    for _ in range(8):
        lora, state, loss = train_step(lora, state)
        losses.append(float(loss))
    assert losses[-1] < 0.9 * losses[0], losses


def test_sampler_with_guidance_is_deterministic(tiny_model, tiny_config):
    from mimicjax.translate import flow

    _, _, context = random_inputs(tiny_config, 1, 1, 4, 4, 4, seed=51)
    negative = np.zeros_like(context)
    model_fn = lambda x, t, ctx: tiny_model.apply(tiny_model.params, x, t, ctx)
    denoise = flow.guided_denoiser(model_fn, jnp.asarray(context), jnp.asarray(negative), guidance_scale=4.0)

    @jax.jit(compiler_options=FAST_COMPILE)
    def run(seed):
        noise = jax.random.normal(jax.random.PRNGKey(seed), (1, tiny_config.in_channels, 2, 4, 4))
        return flow.sample(denoise, noise, steps=3, shift=5.0, solver="unipc")

    a, b, c = run(0), run(0), run(1)
    assert a.shape == (1, tiny_config.in_channels, 2, 4, 4) and bool(jnp.isfinite(a).all())
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    # guidance really mixes two predictions: scale 1 differs from scale 4
    plain = flow.guided_denoiser(model_fn, jnp.asarray(context), jnp.asarray(negative), guidance_scale=1.0)
    x = jnp.ones((1, tiny_config.in_channels, 2, 4, 4))
    t = jnp.array(500.0)
    jit = lambda f: jax.jit(f, compiler_options=FAST_COMPILE)
    assert not np.allclose(np.asarray(jit(denoise)(x, t)), np.asarray(jit(plain)(x, t)))
