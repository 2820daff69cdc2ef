"""In-context LoRA fine-tuning of the Wan translator on (H2Rep, robot video) pairs: `translate finetune`.

    mimicjax translate finetune --config experiments/h2r_tiny.py --data DATASET --run-dir DIR [--ckpt CKPT --vae VAE]

Each optimiser step is one jitted function of (state, frozen parameters, batch, text embeddings), all
passed as arguments:

  * per clip: noise, a noise level sigma (uniform or logit-normal, shifted as the sampler shifts it) and
    whether the prompt is dropped to the empty-prompt embedding (`flow.text_dropout`, for guidance);
  * the target latents are noised to x_sigma; the condition latents are appended as clean tokens on the
    same position grid with timestep 0 (the transformer does this: target tokens get 1000 sigma);
  * the loss is flow matching's ||v - (noise - x0)||^2 on the target tokens, its gradient taken with
    respect to the trainable parts only (LoRA, and the condition patch embedding when separate), summed
    over `optim.grad_accumulation` micro-batches (a `lax.scan`) before one AdamW update.

The loop around it is the RL half's (`mimicjax.train.driver.drive`): progress bar, NaN guard, Orbax
checkpoints of the full state (trainable weights, optimiser, PRNG key, step) with bit-exact `--resume`,
TensorBoard + JSONL scalars ("finetune/loss", "finetune/grad_norm", "finetune/learning_rate"), and the
held-out flow loss ("eval/flow_loss": fixed noise levels and noise on every held-out clip) before the
first step, every `train.eval_every` steps and after the last; with `train.sample_every`, a preview video
of the first held-out clip (H2Rep | sample | real). Beside the checkpoints the run directory
holds what sampling needs: `lora.safetensors` (the adapter, with the condition embedding and the
options it was trained with; `translate sample --lora` reads it), `prompt_embedding.npy` and
`empty_prompt_embedding.npy` (the guidance negative).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax import config as config_lib
from mimicjax.config import ConfigError
from mimicjax.translate import flow
from mimicjax.translate.finetune_config import RESUME_MAY_CHANGE, RESUME_MUST_KEEP, FinetuneConfig, saved_finetune_config
from mimicjax.translate.finetune_data import LatentBatches, load_pair

LORA_FILE = "lora.safetensors"
PROMPT_FILE = "prompt_embedding.npy"
EMPTY_PROMPT_FILE = "empty_prompt_embedding.npy"
SOURCES_KEY = "sources"  # checkpoint metadata: the --ckpt, --vae and --data a run was started with


@dataclasses.dataclass
class FinetuneRun:
    """Everything a fine-tuning run is made of; `state` and `frozen` are the pytrees the step works on."""

    config: FinetuneConfig
    model: Any  # WanModel: the architecture (with the run's options), LoRA scale; its params are `frozen`
    frozen: Any  # the base model's parameters (no condition embedding), sharded over the mesh
    state: dict  # {"trainable": {"lora", ["condition_embedding"]}, "opt_state", "rng", "step"}
    text: dict  # {"prompt": [S, D], "empty": [S, D]}
    train_data: LatentBatches
    held_out: tuple[Path, ...]
    mesh: Any
    step_fn: Any
    eval_fn: Any
    sources: dict
    vae: Any = None  # WanVAE: decodes the preview videos


# ---- the optimiser and the trainable parts ----------------------------------------------------------


def learning_rate_schedule(config) -> Any:
    """Linear warm-up from 0 to `optim.learning_rate` over `optim.warmup_steps`, then constant."""
    import optax

    if config.warmup_steps == 0:
        return optax.constant_schedule(config.learning_rate)
    return optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps)


def make_optimizer(config) -> Any:
    """Global-norm clipping, then AdamW on the schedule."""
    import optax

    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adamw(learning_rate_schedule(config), b1=config.b1, b2=config.b2, weight_decay=config.weight_decay),
    )


def init_trainable(frozen, config: FinetuneConfig, rng: jax.Array) -> dict:
    """The trainable parts in float32 (the master copy; the forward casts them to the compute dtype): a
    fresh LoRA, and a copy of the base patch embedding for the condition tokens when it is separate."""
    from mimicjax.translate.lora import init_lora

    trainable = {"lora": init_lora(frozen, config.lora, rng, dtype=jnp.float32)}
    if config.model.separate_condition_embedding:
        trainable["condition_embedding"] = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), frozen["patch_embedding"])
    return trainable


def forward(model, trainable, frozen, x_t, t, context, condition):
    """The velocity the adapted model predicts for noisy targets `x_t` at timesteps `t` [B]."""
    params = frozen
    if "condition_embedding" in trainable:
        params = {**frozen, "condition_embedding": trainable["condition_embedding"]}
    return model.apply(params, x_t, t, context, condition=condition, lora=trainable["lora"])


# ---- one step ---------------------------------------------------------------------------------------


def drop_text(keep: jnp.ndarray, prompt: jnp.ndarray, empty: jnp.ndarray) -> jnp.ndarray:
    """Per-clip text [B, S, D]: the prompt where `keep`, the empty-prompt embedding elsewhere."""
    return jnp.where(keep[:, None, None], prompt[None], empty[None])


def step_randomness(rng: jax.Array, target_shape: tuple[int, ...], config) -> dict:
    """Noise, noise levels and text dropout of one step's whole batch (drawn once for the batch, so how it is
    split into micro-batches changes nothing)."""
    noise_rng, sigma_rng, text_rng = jax.random.split(rng, 3)
    batch = target_shape[0]
    return {
        "noise": jax.random.normal(noise_rng, target_shape, jnp.float32),
        "sigma": flow.sample_training_sigmas(sigma_rng, batch, config.shift, config.sigma_distribution),
        "keep_text": jax.random.uniform(text_rng, (batch,)) >= config.text_dropout,
    }


def flow_loss(trainable, inputs: dict, *, frozen, model, weighting: str) -> jnp.ndarray:
    """Flow-matching loss of a (micro-)batch: inputs hold target, condition, context, noise and sigma."""
    predict = lambda x_t, t: forward(model, trainable, frozen, x_t, t, inputs["context"], inputs["condition"])
    return flow.flow_matching_loss(predict, inputs["target"], inputs["noise"], inputs["sigma"], weighting)


def accumulated_gradients(loss_fn, trainable, inputs: dict, micro_batches: int):
    """(mean loss, mean gradient) over `micro_batches` equal slices of the batch, one slice in memory at a time."""
    sliced = jax.tree.map(lambda a: a.reshape(micro_batches, a.shape[0] // micro_batches, *a.shape[1:]), inputs)

    def add(total, micro):
        loss, grads = jax.value_and_grad(loss_fn)(trainable, micro)
        return jax.tree.map(jnp.add, total, (loss, grads)), None

    zeros = (jnp.zeros((), jnp.float32), jax.tree.map(jnp.zeros_like, trainable))
    (loss, grads), _ = jax.lax.scan(add, zeros, sliced)
    return loss / micro_batches, jax.tree.map(lambda g: g / micro_batches, grads)


def train_step(state: dict, frozen, batch: dict, text: dict, *, model, optimizer, config: FinetuneConfig):
    """One optimiser step: (new state, metrics)."""
    import optax

    rng, step_rng = jax.random.split(state["rng"])
    drawn = step_randomness(step_rng, batch["target"].shape, config.flow)
    inputs = {"target": batch["target"], "condition": batch["condition"], "noise": drawn["noise"],
              "sigma": drawn["sigma"], "context": drop_text(drawn["keep_text"], text["prompt"], text["empty"])}
    loss_fn = functools.partial(flow_loss, frozen=frozen, model=model, weighting=config.flow.weighting)
    loss, grads = accumulated_gradients(loss_fn, state["trainable"], inputs, config.optim.grad_accumulation)
    updates, opt_state = optimizer.update(grads, state["opt_state"], state["trainable"])
    new_state = {"trainable": optax.apply_updates(state["trainable"], updates), "opt_state": opt_state, "rng": rng,
                 "step": state["step"] + 1}
    metrics = {
        "finetune/loss": loss,
        "finetune/grad_norm": optax.tree.norm(grads),
        "finetune/learning_rate": learning_rate_schedule(config.optim)(state["step"]),
        "finetune/text_dropped": 1.0 - jnp.mean(drawn["keep_text"].astype(jnp.float32)),
    }
    return new_state, metrics


def held_out_loss(trainable, frozen, pair: dict, clip_index, text: dict, *, model, config: FinetuneConfig):
    """Flow loss of one held-out clip at `train.eval_sigmas` fixed noise levels (midpoints of [0, 1], shifted
    like training's) with fixed noise: the same numbers at every evaluation, so only the model changes them."""
    count = config.train.eval_sigmas
    sigma = flow.shift_sigmas((jnp.arange(count, dtype=jnp.float32) + 0.5) / count, config.flow.shift)
    target = jnp.broadcast_to(pair["target"], (count,) + pair["target"].shape[1:])
    key = jax.random.fold_in(jax.random.key(config.seed + 1), clip_index)
    inputs = {"target": target, "condition": jnp.broadcast_to(pair["condition"], target.shape),
              "noise": jax.random.normal(key, target.shape, jnp.float32), "sigma": sigma,
              "context": jnp.broadcast_to(text["prompt"][None], (count,) + text["prompt"].shape)}
    return flow_loss(trainable, inputs, frozen=frozen, model=model, weighting=config.flow.weighting)


# ---- building a run ---------------------------------------------------------------------------------


def base_transformer(config: FinetuneConfig, ckpt: str | None):
    """(WanConfig with the run's runtime options, base parameters without a condition embedding)."""
    from mimicjax.translate.wan.configs import preset
    from mimicjax.translate.wan.convert import load_checkpoint
    from mimicjax.translate.wan.transformer import init_params

    runtime = {"dtype": config.model.dtype, "param_dtype": config.model.param_dtype, "remat": config.model.remat,
               "attention": config.model.attention, "mask_condition_to_target": config.model.mask_condition_to_target}
    if ckpt:
        wan_config, params, _ = load_checkpoint(ckpt, **runtime)
    elif config.model.preset:
        wan_config = preset(config.model.preset, **runtime)
        params = init_params(wan_config, rng=jax.random.PRNGKey(config.seed))
    else:
        raise ConfigError(f"the config {config.name!r} fine-tunes released weights (model.preset is empty): give --ckpt "
                          f"CKPT (from `mimicjax translate convert`)")
    return wan_config.replace(separate_condition_embedding=config.model.separate_condition_embedding), params


def load_vae(config: FinetuneConfig, vae_path: str | None, compiler_options=None):
    """(WanVAE, its identity for the latent cache): from --vae, or a random one of `model.vae_preset`."""
    from mimicjax.translate.wan import vae as vae_lib

    if vae_path:
        vae = vae_lib.load_diffusers_vae(vae_path, compiler_options=compiler_options)
        source = str(Path(vae_path).absolute())
    elif config.model.vae_preset:
        vae = vae_lib.WanVAE.from_config(vae_lib.preset(config.model.vae_preset), seed=config.seed,
                                         compiler_options=compiler_options)
        source = f"random:{config.model.vae_preset}:{config.seed}"
    else:
        raise ConfigError(f"the config {config.name!r} needs the Wan VAE (model.vae_preset is empty): give --vae PATH")
    return vae, f"{source} {vae.config.to_dict()}"


def check_grid(config: FinetuneConfig, wan_config, vae) -> None:
    """The training grid fits the VAE and the transformer's patches; their channels agree."""
    multiple = vae.config.spatial_factor * wan_config.patch_size[1]
    if config.data.width % multiple or config.data.height % multiple:
        raise ConfigError(f"data.width and data.height must be multiples of {multiple} (VAE x patch), "
                          f"got {config.data.width}x{config.data.height}")
    if vae.config.z_dim != wan_config.in_channels:
        raise ConfigError(f"the VAE makes {vae.config.z_dim}-channel latents, the transformer takes "
                          f"{wan_config.in_channels}; pair a Wan 2.2 VAE with TI2V-5B, a Wan 2.1 VAE with Wan 2.1")


def prepare_data(config: FinetuneConfig, dataset: str | Path, vae_path: str | None, compiler_options=None,
                 show_progress: bool = True):
    """(training files, held-out files, the VAE) with every clip's latents in the dataset's cache."""
    from mimicjax.translate import finetune_data as data_lib

    clips = data_lib.find_pairs(dataset)
    vae, identity = load_vae(config, vae_path, compiler_options)
    d = config.data
    spec = data_lib.LatentSpec(vae=identity, width=d.width, height=d.height, frames=d.frames, fps=d.fps)
    files = data_lib.build_latent_cache(clips, data_lib.cache_folder(dataset, spec), spec, data_lib.vae_encoder(vae),
                                        show_progress)
    train, held_out = data_lib.split_clips(list(files), d.held_out_fraction, d.split_seed)
    return [files[n] for n in train], [files[n] for n in held_out], vae


@dataclasses.dataclass
class Trainer:
    """The model, its frozen weights on the mesh, a fresh training state and the jitted step and held-out loss."""

    model: Any
    frozen: Any
    state: dict
    mesh: Any
    step_fn: Any  # (state, frozen, batch, text) -> (state, metrics)
    eval_fn: Any  # (trainable, frozen, pair, clip_index, text) -> loss


def build_trainer(config: FinetuneConfig, wan_config, params, compiler_options=None) -> Trainer:
    """Everything a fine-tuning step needs but the data (the benchmark runs it on random latents)."""
    from mimicjax import distributed
    from mimicjax.translate.wan.sharding import make_translate_mesh, shard_params
    from mimicjax.translate.wan.transformer import WanModel

    mesh = make_translate_mesh(*config.train.mesh)
    model = WanModel(wan_config, None, lora_scale=config.lora.scale, compiler_options=compiler_options)
    frozen = shard_params(params, mesh)
    optimizer = make_optimizer(config.optim)
    init_rng, run_rng = jax.random.split(jax.random.key(config.seed))
    trainable = init_trainable(frozen, config, init_rng)
    state = jax.device_put({"trainable": trainable, "opt_state": optimizer.init(trainable), "rng": run_rng,
                            "step": jnp.zeros((), jnp.int32)}, distributed.replicated(mesh))
    options = dict(compiler_options or {}) or None
    step_fn = jax.jit(functools.partial(train_step, model=model, optimizer=optimizer, config=config),
                      compiler_options=options)
    eval_fn = jax.jit(functools.partial(held_out_loss, model=model, config=config), compiler_options=options)
    return Trainer(model, frozen, state, mesh, step_fn, eval_fn)


def build_finetune(config: FinetuneConfig, dataset: str | Path, *, ckpt: str | None = None, vae: str | None = None,
                   text: dict | None = None, text_sources: dict | None = None, compiler_options=None,
                   show_progress: bool = True) -> FinetuneRun:
    """Model, data, jitted step and held-out loss, and a fresh state. `text`: the {"prompt", "empty"}
    embeddings; without it they come from `prompt_embeddings(**text_sources)` (no sources: the random
    stand-in of random-weight runs)."""
    from mimicjax import distributed
    from mimicjax.translate import finetune_data as data_lib
    from mimicjax.translate.finetune_data import prompt_embeddings

    wan_config, params = base_transformer(config, ckpt)
    train_files, held_out, vae_model = prepare_data(config, dataset, vae, compiler_options, show_progress)
    check_grid(config, wan_config, vae_model)
    if text is None:
        prompt, empty, source = prompt_embeddings(
            config.data.prompt, wan_config.text_dim, **(text_sources or {}),
            cache_dir=Path(dataset) / data_lib.CACHE_FOLDER / "prompts", random_tokens=config.data.random_text_tokens)
        print(f"prompt embeddings: {source}", flush=True)
        text = {"prompt": prompt, "empty": empty}
    trainer = build_trainer(config, wan_config, params, compiler_options)
    replicated = distributed.replicated(trainer.mesh)
    return FinetuneRun(
        config=config, model=trainer.model, frozen=trainer.frozen, state=trainer.state,
        text={k: jax.device_put(jnp.asarray(v, jnp.float32), replicated) for k, v in text.items()},
        train_data=LatentBatches(tuple(train_files), config.data.batch_size, config.seed),
        held_out=tuple(held_out), mesh=trainer.mesh, step_fn=trainer.step_fn, eval_fn=trainer.eval_fn, vae=vae_model,
        sources={"ckpt": str(Path(ckpt).absolute()) if ckpt else "", "vae": str(Path(vae).absolute()) if vae else "",
                 "data": str(Path(dataset).absolute())},
    )


def device_batch(run: FinetuneRun, step: int) -> dict:
    """The batch of `step`, split over the mesh's batch axes."""
    from mimicjax.translate.wan.sharding import shard_inputs

    batch = run.train_data.batch(step)
    condition, target = shard_inputs(run.mesh, batch["condition"], batch["target"])
    return {"condition": condition, "target": target}


def evaluate(run: FinetuneRun) -> float:
    """Mean held-out flow loss over the held-out clips."""
    losses = []
    for index, file in enumerate(run.held_out):
        pair = {k: jnp.asarray(v[None]) for k, v in load_pair(file).items()}
        losses.append(float(run.eval_fn(run.state["trainable"], run.frozen, pair, index, run.text)))
    return float(np.mean(losses))


def preview_video(run: FinetuneRun) -> np.ndarray:
    """uint8 [T, H, 3W, 3]: the first held-out clip's H2Rep | the adapted model's sample | the real video,
    each decoded by the run's VAE (`train.sample_steps` solver steps, guidance to the empty prompt)."""
    from mimicjax.translate.pipeline import SampleConfig, decode_latents, translate_latents
    from mimicjax.translate.wan.transformer import WanModel
    from mimicjax.video import side_by_side

    pair = {k: jnp.asarray(v[None]) for k, v in load_pair(run.held_out[0]).items()}
    trainable = run.state["trainable"]
    params = run.frozen
    if "condition_embedding" in trainable:
        params = {**run.frozen, "condition_embedding": trainable["condition_embedding"]}
    model = WanModel(run.model.config, params, trainable["lora"], run.model.lora_scale, run.model.compiler_options)
    config = SampleConfig(steps=run.config.train.sample_steps, shift=run.config.flow.shift)
    sample = translate_latents(model, pair["condition"], run.text["prompt"][None], run.text["empty"][None], config)
    return side_by_side(*(decode_latents(run.vae, latents) for latents in (pair["condition"], sample, pair["target"])))


def save_adapter(run: FinetuneRun, run_dir: Path) -> Path:
    """The adapter (with the condition embedding and the options it needs) as `run_dir/lora.safetensors`."""
    from mimicjax.translate.lora import save_lora

    trainable = jax.device_get(run.state["trainable"])
    options = {"mask_condition_to_target": run.config.model.mask_condition_to_target}
    return save_lora(run_dir / LORA_FILE, trainable["lora"], run.config.lora,
                     condition_embedding=trainable.get("condition_embedding"), model_options=options)


# ---- the loop ---------------------------------------------------------------------------------------


def finetune(config: FinetuneConfig, run_dir: str | Path, dataset: str | Path | None = None, *, resume: bool = False,
             ckpt: str | None = None, vae: str | None = None, text_embeddings=None, negative_embeddings=None,
             text_encoder=None, compiler_options=None, show_progress: bool = True, on_iteration=None) -> FinetuneRun:
    """Fine-tune up to `config.train.steps` in `run_dir`; returns the final run.

    With `resume`, continue from the newest readable checkpoint with `config` (which may differ from the
    saved one in `RESUME_MAY_CHANGE` only); the dataset, --ckpt and --vae default to the run's own, and
    the text embeddings are the ones saved in `run_dir`.
    """
    from mimicjax.io_utils import atomic_path
    from mimicjax.train import run_log
    from mimicjax.train.checkpoint import Checkpoints, read_config, read_metadata
    from mimicjax.train.driver import Iterations, drive
    from mimicjax.train.loop import raise_if_diverged, report_resume_changes, restore_newest
    from mimicjax.train.runs import check_run_request, checkpoints_dir

    run_dir = Path(run_dir)
    check_run_request(run_dir, resume)
    changes = []
    if resume:
        saved = saved_finetune_config(read_config(checkpoints_dir(run_dir)))
        config, changes = config_lib.resume_config(saved, config, run_dir, RESUME_MAY_CHANGE, RESUME_MUST_KEEP)
        sources = read_metadata(checkpoints_dir(run_dir)).get(SOURCES_KEY, {})
        dataset, ckpt, vae = dataset or sources.get("data"), ckpt or sources.get("ckpt") or None, vae or sources.get("vae") or None
        text = {"prompt": np.load(run_dir / PROMPT_FILE), "empty": np.load(run_dir / EMPTY_PROMPT_FILE)}
    else:
        if dataset is None:
            raise ConfigError("a new fine-tuning run needs --data DATASET")
        text = None
    text_sources = {"text_embeddings": text_embeddings, "negative_embeddings": negative_embeddings,
                    "text_encoder": text_encoder}
    run = build_finetune(config, dataset, ckpt=ckpt, vae=vae, text=text, text_sources=text_sources,
                         compiler_options=compiler_options, show_progress=show_progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        for name, key in ((PROMPT_FILE, "prompt"), (EMPTY_PROMPT_FILE, "empty")):
            with atomic_path(run_dir / name) as tmp:
                np.save(tmp, np.asarray(run.text[key], np.float32))
    start = 0
    with Checkpoints(checkpoints_dir(run_dir), max_to_keep=config.train.keep_checkpoints) as checkpoints:
        if resume:
            start, state, _ = restore_newest(checkpoints, run.state)
            run.state = state
        with run_log.RunLogger(run_dir, resume_step=start if resume else None) as logger:
            logger.write_config(config_lib.to_dict(config))
            if changes:
                report_resume_changes(logger, changes, start)
            if not resume:
                logger.scalars({"eval/flow_loss": evaluate(run)}, step=0)

            def iterate():
                step = int(run.state["step"])
                return run.step_fn(run.state, run.frozen, device_batch(run, step), run.text)

            def keep(state):
                run.state = state

            def checkpoint(done: int, samples: int):
                save_adapter(run, run_dir)
                return run.state, {"step": done, "samples": samples, SOURCES_KEY: run.sources}

            def after(done: int, metrics: dict):
                if done % config.train.eval_every == 0 or done == config.train.steps:
                    logger.scalars({"eval/flow_loss": evaluate(run)}, step=done)
                every = config.train.sample_every
                if every and run.held_out and (done % every == 0 or done == config.train.steps):
                    logger.video("eval/preview", preview_video(run), step=done, fps=config.data.fps)
                if on_iteration is not None:
                    on_iteration(done, metrics)

            iterations = Iterations(
                name="finetune", total=config.train.steps, steps_per_iteration=config.data.batch_size,
                iterate=iterate, keep=keep,
                check_finite=lambda metrics, step, last: raise_if_diverged(
                    metrics, ("finetune/loss", "finetune/grad_norm"), f"step {step + 1}", last, checkpoints_dir(run_dir),
                    "Lower optim.learning_rate or optim.max_grad_norm, or check the data for broken clips."),
                checkpoint=checkpoint,
                postfix=lambda metrics: {"loss": f"{float(metrics['finetune/loss']):.4f}"},
            )
            drive(iterations, config.train, config_lib.to_dict(config), start, start * config.data.batch_size,
                  checkpoints, logger, show_progress, after)
        checkpoints.wait()
    return run


def held_out_losses(run_dir: str | Path) -> list[tuple[int, float]]:
    """(step, held-out flow loss) of a run, from its scalars.jsonl."""
    from mimicjax.train.run_log import SCALARS_FILE, read_jsonl

    return [(int(r["step"]), float(r["eval/flow_loss"])) for r in read_jsonl(Path(run_dir) / SCALARS_FILE)
            if "eval/flow_loss" in r]


def finetune_command(args) -> int:
    """`mimicjax translate finetune`."""
    from mimicjax.translate.finetune_config import load_finetune_config

    config = config_lib.apply_overrides(load_finetune_config(args.config), args.overrides)
    finetune(config, args.run_dir, args.data, resume=args.resume, ckpt=args.ckpt, vae=args.vae,
             text_embeddings=args.text_embeddings, negative_embeddings=args.negative_embeddings,
             text_encoder=args.text_encoder)
    losses = held_out_losses(args.run_dir)
    if losses:
        (first_step, first), (last_step, last) = losses[0], losses[-1]
        print(f"held-out flow loss: {first:.4f} (step {first_step}) -> {last:.4f} (step {last_step})")
    print(f"fine-tuned {config.name}: adapter in {Path(args.run_dir) / LORA_FILE}, logs and checkpoints in {args.run_dir}")
    return 0
