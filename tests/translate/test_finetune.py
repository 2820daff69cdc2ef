"""`translate finetune` at tiny size: text dropout, per-token timesteps (condition at 0), the condition
attention mask, gradient accumulation, bit-exact resume, the adapter file the sampler loads, and a sampler
whose compiled program holds no parameter-sized constants."""

from __future__ import annotations

import dataclasses
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.translate import finetune as ft
from mimicjax.translate.finetune_config import DataConfig, FinetuneConfig, ModelConfig, OptimConfig, StepsConfig
from mimicjax.translate.lora import LoRAConfig
from mimicjax.translate.wan.configs import TINY
from tests.translate.conftest import FAST_COMPILE

CONFIG = FinetuneConfig(
    name="test",
    data=DataConfig(width=32, height=32, frames=5, fps=10.0, held_out_fraction=0.25, batch_size=2,
                    random_text_tokens=4),
    model=ModelConfig(separate_condition_embedding=True, mask_condition_to_target=True),
    lora=LoRAConfig(rank=2, alpha=2.0),
    optim=OptimConfig(learning_rate=1e-2, warmup_steps=1, grad_accumulation=2),
    train=StepsConfig(steps=4, checkpoint_every=2, eval_every=2, eval_sigmas=2, sample_every=4, sample_steps=1),
)


@pytest.fixture(scope="module")
def params():
    from mimicjax.translate.wan.transformer import init_params

    return init_params(TINY, rng=0)


def latents(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_text_dropout_swaps_in_the_empty_prompt():
    prompt, empty = jnp.ones((3, 2)), jnp.zeros((3, 2))
    keep = jnp.array([True, False, True])
    np.testing.assert_array_equal(ft.drop_text(keep, prompt, empty)[:, 0, 0], [1, 0, 1])
    for rate in (0.0, 0.25, 1.0):
        flow_config = dataclasses.replace(CONFIG.flow, text_dropout=rate)
        kept = ft.step_randomness(jax.random.key(0), (4096, 1), flow_config)["keep_text"]
        assert abs(float(1 - kept.mean()) - rate) < 0.03


def test_condition_tokens_have_timestep_zero(params):
    """Per-token timesteps: the target's tokens at 1000 sigma, the appended condition tokens at 0."""
    from mimicjax.translate.wan.transformer import WanTransformer

    module = WanTransformer(TINY)
    x, cond, text = latents((1, 4, 2, 4, 4), 0), latents((1, 4, 2, 4, 4), 1), latents((1, 3, 24), 2)

    @jax.jit(compiler_options=FAST_COMPILE)
    def temb(t):
        _, state = module.apply({"params": params}, x, t, text, cond, capture_intermediates=True, mutable=["intermediates"])
        return state["intermediates"]["condition_embedder"]["__call__"][0][0]  # [B, tokens, D]

    tokens = 2 * 2 * 2  # (frames, height, width) / patch
    noisy, clean = np.asarray(temb(jnp.array([700.0]))), np.asarray(temb(jnp.array([0.0])))
    assert noisy.shape[1] == 2 * tokens  # target tokens, then as many condition tokens
    np.testing.assert_array_equal(noisy[:, tokens:], clean[:, tokens:])  # condition: t = 0 whatever the target's
    np.testing.assert_array_equal(noisy[:, :tokens], np.broadcast_to(noisy[:, :1], noisy[:, :tokens].shape))
    assert not np.allclose(noisy[:, :tokens], clean[:, :tokens])


def test_mask_keeps_the_target_out_of_the_condition_tokens(params):
    from mimicjax.translate.wan.transformer import WanTransformer

    cond, text, t = latents((1, 4, 2, 4, 4), 1), latents((1, 3, 24), 2), jnp.array([500.0])
    tokens = 8

    @functools.partial(jax.jit, static_argnums=0, compiler_options=FAST_COMPILE)
    def forward(config, x, condition):
        out, state = WanTransformer(config).apply({"params": params}, x, t, text, condition, capture_intermediates=True,
                                                  mutable=["intermediates"])
        return out, state["intermediates"][f"blocks_{config.num_layers - 1}"]["__call__"][0]

    def run(config, x, condition=cond):
        return tuple(np.asarray(a) for a in forward(config, x, condition))

    masked = TINY.replace(mask_condition_to_target=True)
    _, hidden_a = run(masked, latents((1, 4, 2, 4, 4), 3))
    _, hidden_b = run(masked, latents((1, 4, 2, 4, 4), 4))
    np.testing.assert_allclose(hidden_a[:, tokens:], hidden_b[:, tokens:], atol=1e-6)  # condition tokens: target unseen
    _, open_a = run(TINY, latents((1, 4, 2, 4, 4), 3))
    _, open_b = run(TINY, latents((1, 4, 2, 4, 4), 4))
    assert np.abs(open_a[:, tokens:] - open_b[:, tokens:]).max() > 1e-3  # without the mask they see it
    x = latents((1, 4, 2, 4, 4), 3)
    assert np.abs(run(masked, x)[0] - run(masked, x, latents((1, 4, 2, 4, 4), 5))[0]).max() > 1e-3  # target sees condition


def test_gradient_accumulation_equals_one_big_batch(params):
    """2 micro-batches of B/2 give the loss and gradient of one batch of B (float tolerance)."""
    from mimicjax.translate.wan.transformer import WanModel

    config = dataclasses.replace(CONFIG, optim=dataclasses.replace(CONFIG.optim, grad_accumulation=1))
    model = WanModel(TINY.replace(separate_condition_embedding=True), None, lora_scale=config.lora.scale)
    trainable = ft.init_trainable(params, config, jax.random.key(0))
    trainable["lora"] = jax.tree.map(lambda a: a + 0.05, trainable["lora"])  # lora_B away from zero
    drawn = ft.step_randomness(jax.random.key(1), (4, 4, 2, 4, 4), config.flow)
    inputs = {"target": latents((4, 4, 2, 4, 4), 0), "condition": latents((4, 4, 2, 4, 4), 1), "noise": drawn["noise"],
              "sigma": drawn["sigma"], "context": latents((4, 3, 24), 2)}
    loss_fn = functools.partial(ft.flow_loss, frozen=params, model=model, weighting="none")
    grads = jax.jit(ft.accumulated_gradients, static_argnums=(0, 3), compiler_options=FAST_COMPILE)
    loss_1, grads_1 = grads(loss_fn, trainable, inputs, 1)
    loss_2, grads_2 = grads(loss_fn, trainable, inputs, 2)
    np.testing.assert_allclose(float(loss_2), float(loss_1), rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads_1), jax.tree.leaves(grads_2)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-7)
    assert set(grads_1) == {"lora", "condition_embedding"}
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads_1))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Five clip pairs of random frames, laid out as `make-data` + `prepare robot --dataset` leave them."""
    from mimicjax.translate.finetune_data import CONDITION_VIDEO, TARGET_VIDEO
    from mimicjax.video import write_video

    root = tmp_path_factory.mktemp("h2r") / "data"
    rng = np.random.default_rng(0)
    for i in range(5):
        for name in (CONDITION_VIDEO, TARGET_VIDEO):
            write_video(root / f"clip_{i}" / name, rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8), fps=10)
    return root


def train(config, run_dir, dataset, **kwargs):
    return ft.finetune(config, run_dir, dataset, compiler_options=FAST_COMPILE, show_progress=False, **kwargs)


@pytest.fixture(scope="module")
def straight_run(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("straight")
    return train(CONFIG, run_dir, dataset), run_dir


def test_resume_is_bit_exact(straight_run, dataset, tmp_path):
    """4 steps straight, or 2 steps then --resume to 4: the same weights, optimiser state and key."""
    straight, _ = straight_run
    half = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train, steps=2))
    train(half, tmp_path, dataset)
    resumed = train(CONFIG, tmp_path, None, resume=True)
    assert int(resumed.state["step"]) == 4
    for a, b in zip(jax.tree.leaves(straight.state), jax.tree.leaves(resumed.state)):
        a, b = (jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x for x in (a, b))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [step for step, _ in ft.held_out_losses(tmp_path)] == [0, 2, 4]
    with pytest.raises(ValueError, match="already holds a run"):
        train(CONFIG, tmp_path, dataset)
    with pytest.raises(ValueError, match="data.batch_size"):
        train(dataclasses.replace(CONFIG, data=dataclasses.replace(CONFIG.data, batch_size=4)), tmp_path, None, resume=True)


def test_preview_videos_show_h2rep_sample_and_real_side_by_side(straight_run):
    from mimicjax.train.run_log import read_event_images
    from mimicjax.video import read_video

    _, run_dir = straight_run
    videos = sorted((run_dir / "videos").glob("eval_preview_*.mp4"))
    assert [p.name for p in videos] == ["eval_preview_00000004.mp4"]  # train.sample_every=4 of 4 steps
    frames, fps = read_video(videos[0])
    assert frames.shape == (5, 32, 3 * 32, 3) and fps == pytest.approx(CONFIG.data.fps)
    assert [step for step, _ in read_event_images(run_dir)["eval/preview"]] == [4]


def test_the_sampler_loads_the_run_adapter(straight_run, params):
    from mimicjax.translate.pipeline import SampleConfig, translate_latents, with_adapter
    from mimicjax.translate.wan.transformer import WanModel

    run, run_dir = straight_run
    model = with_adapter(WanModel(TINY, params, compiler_options=FAST_COMPILE), run_dir / ft.LORA_FILE)
    assert model.config.separate_condition_embedding and model.config.mask_condition_to_target
    trained = jax.device_get(run.state["trainable"])
    np.testing.assert_array_equal(np.asarray(model.params["condition_embedding"]["kernel"]),
                                  trained["condition_embedding"]["kernel"])
    np.testing.assert_array_equal(np.asarray(model.lora["blocks_1"]["attn1"]["to_v"]["lora_B"]),
                                  trained["lora"]["blocks_1"]["attn1"]["to_v"]["lora_B"])
    text, empty = np.load(run_dir / ft.PROMPT_FILE), np.load(run_dir / ft.EMPTY_PROMPT_FILE)
    condition = latents((1, 4, 2, 4, 4), 0)
    out = translate_latents(model, condition, jnp.asarray(text[None]), jnp.asarray(empty[None]), SampleConfig(steps=2))
    assert out.shape == condition.shape and bool(jnp.isfinite(out).all())
    with pytest.raises(ValueError, match="empty-prompt embedding"):
        translate_latents(model, condition, jnp.asarray(text[None]), None, SampleConfig(steps=2))


def largest_constants(sampler, *args) -> tuple[int, int]:
    """(bytes of the largest constant of the traced program, of the largest one in its StableHLO text)."""
    consts = sampler.trace(*args).jaxpr.consts
    traced = max((np.asarray(c).nbytes for c in consts), default=0)
    blobs = re.findall(r'dense<"0x([0-9A-Fa-f]+)">', sampler.lower(*args).as_text())
    return traced, max((len(b) // 2 for b in blobs), default=0)


def test_the_sampler_program_holds_no_parameter_sized_constants(params):
    """Parameters, LoRA, condition latents and text embeddings enter as arguments: the largest constant
    left (a RoPE table, a few hundred bytes here) is far below the smallest weight matrix."""
    from mimicjax.translate.lora import init_lora
    from mimicjax.translate.pipeline import SampleConfig, compiled_sampler

    lora = init_lora(params, LoRAConfig(rank=2, alpha=2.0))
    sampler = compiled_sampler(TINY, 1.0, SampleConfig(steps=2, guidance_scale=3.0), True)
    args = (params, lora, latents((1, 4, 2, 4, 4), 0), latents((1, 5, 24), 1), latents((1, 5, 24), 2), jax.random.PRNGKey(0))
    smallest_matrix = min(np.asarray(p).nbytes for p in jax.tree.leaves(params) if np.ndim(p) == 2)
    assert smallest_matrix > 1024
    traced, lowered = largest_constants(sampler, *args)
    assert traced < 1024 and lowered < 1024, (traced, lowered)

    # The check sees constants: the same sampler with the weights closed over is full of them.
    closed = jax.jit(lambda cond, text, neg, key: sampler(params, lora, cond, text, neg, key))
    assert min(largest_constants(closed, *args[2:])) >= smallest_matrix


def test_a_separate_condition_embedding_starts_as_the_patch_embedding(params, tmp_path):
    from mimicjax.translate.wan.convert import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "ckpt", TINY, params)
    config, loaded, _ = load_checkpoint(tmp_path / "ckpt", separate_condition_embedding=True)
    assert config.separate_condition_embedding
    for name in ("kernel", "bias"):
        np.testing.assert_array_equal(np.asarray(loaded["condition_embedding"][name]), np.asarray(params["patch_embedding"][name]))
