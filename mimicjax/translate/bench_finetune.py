"""`mimicjax bench finetune`: one in-context LoRA training step and one sampling step of the Wan
translator at a fine-tuning config's size, with random weights (nothing is downloaded or read).

    mimicjax bench finetune --config experiments/h2r_ti2v_5b.py --preset wan2.2-ti2v-5b --json out.json

The transformer is the config's (`--preset` picks a random-weight architecture for configs that
fine-tune released weights), at the config's dtypes, remat and LoRA; its inputs are random latents
of the config's video grid (`data.width` x `data.height` x `data.frames`) as the VAE would make them
(`--spatial-factor`, `--temporal-factor`, `--latent-channels`: the Wan 2.2 VAE's 16, 4 and the
transformer's input channels by default), so one stream holds
frames' x (height / 16 / 2) x (width / 16 / 2) tokens and the in-context step twice that. Measured:

  * train step: the jitted step of `translate finetune` (noise, flow-matching loss over the condition +
    target tokens, gradients of the LoRA (and condition embedding) over `optim.grad_accumulation`
    micro-batches, AdamW), compile apart, then the best of `--repeats` steps;
  * sampling step: the sampler of `translate sample` for one step of its solver with classifier-free
    guidance (two forwards), compile apart;
  * device memory after each (the allocator's peak, GPU/TPU) and the host's peak RSS.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="EXPERIMENT.py", help="a fine-tuning config (experiments/h2r_*.py)")
    parser.add_argument("--preset", default=None,
                        help="random-weight Wan architecture (wan/configs.py), for configs whose model.preset is empty")
    parser.add_argument("--spatial-factor", type=int, default=16, help="VAE downsampling in H and W (Wan 2.2: 16)")
    parser.add_argument("--temporal-factor", type=int, default=4, help="VAE downsampling in time (Wan: 4)")
    parser.add_argument("--text-len", type=int, default=512, help="text tokens of the prompt embedding (Wan: 512)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up (default 3)")
    parser.add_argument("--no-sample", dest="sample", action="store_false", help="skip the sampling step")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the fine-tuning config (repeatable)")


def latent_shape(config, wan_config, spatial: int, temporal: int) -> tuple[int, ...]:
    """[micro-batch, C, F', H', W'] of one micro-batch of latents for the config's video grid."""
    d = config.data
    if d.width % spatial or d.height % spatial or (d.frames - 1) % temporal:
        raise ValueError(f"data.width/height must be multiples of {spatial} and data.frames 1 + a multiple of {temporal}, "
                         f"got {d.width}x{d.height}x{d.frames}")
    micro = d.batch_size // config.optim.grad_accumulation
    return (micro, wan_config.in_channels, (d.frames - 1) // temporal + 1, d.height // spatial, d.width // spatial)


def run(args: argparse.Namespace) -> dict:
    import dataclasses
    import datetime
    import os
    import platform
    import time

    import jax
    import jax.numpy as jnp

    from mimicjax import config as config_lib
    from mimicjax.bench.common import best_seconds, device_memory_mb, load_average, peak_host_memory_mb
    from mimicjax.translate import finetune as finetune_lib
    from mimicjax.translate import pipeline
    from mimicjax.translate.finetune_config import load_finetune_config
    from mimicjax.translate.wan.sharding import shard_inputs

    if args.repeats < 1 or args.text_len < 1:
        raise ValueError("--repeats and --text-len must be positive")
    config = config_lib.apply_overrides(load_finetune_config(args.config), args.overrides)
    if args.preset:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, preset=args.preset))
    device = jax.devices()[0]
    result: dict = {
        "benchmark": "finetune",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config.name,
        "preset": config.model.preset,
        "backend": jax.default_backend(),
        "device": str(device.device_kind),
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "load_average_start": load_average(),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "dtype": config.model.dtype,
        "param_dtype": config.model.param_dtype,
        "remat": config.model.remat,
        "lora": {"rank": config.lora.rank, "targets": list(config.lora.targets)},
    }
    started = time.perf_counter()
    wan_config, params = finetune_lib.base_transformer(config, None)
    trainer = finetune_lib.build_trainer(config, wan_config, params)
    jax.block_until_ready((trainer.frozen, trainer.state))
    result["build_s"] = time.perf_counter() - started
    count = lambda tree: int(sum(x.size for x in jax.tree.leaves(tree)))  # noqa: E731
    result["parameters"] = count(trainer.frozen)
    result["trainable_parameters"] = count(trainer.state["trainable"])

    shape = latent_shape(config, wan_config, args.spatial_factor, args.temporal_factor)
    pt, ph, pw = wan_config.patch_size
    tokens = (shape[2] // pt) * (shape[3] // ph) * (shape[4] // pw)
    batch_shape = (config.data.batch_size,) + shape[1:]
    result["shape"] = {"latents": list(batch_shape), "micro_batch": shape[0], "grad_accumulation": config.optim.grad_accumulation,
                       "tokens_per_stream": tokens, "tokens_in_context": 2 * tokens, "text_len": args.text_len}

    keys = jax.random.split(jax.random.key(config.seed + 1), 4)
    condition, target = shard_inputs(
        trainer.mesh, *(jax.random.normal(k, batch_shape, jnp.float32) for k in keys[:2]))
    text = {name: jax.random.normal(k, (args.text_len, wan_config.text_dim), jnp.float32)
            for name, k in zip(("prompt", "empty"), keys[2:])}
    batch = {"condition": condition, "target": target}

    started = time.perf_counter()
    step = trainer.step_fn.lower(trainer.state, trainer.frozen, batch, text).compile()
    compile_s = time.perf_counter() - started
    holder = {"state": trainer.state}

    def one_step():
        holder["state"], metrics = step(holder["state"], trainer.frozen, batch, text)
        return jax.block_until_ready(metrics)

    metrics = one_step()  # warm-up
    seconds = best_seconds(one_step, args.repeats)
    result["train_step"] = {
        "compile_s": compile_s, "seconds": seconds, "loss": float(metrics["finetune/loss"]),
        "clips_per_s": config.data.batch_size / seconds,
        "device_memory": device_memory_mb(device),
    }

    if args.sample:
        sample_config = pipeline.SampleConfig(steps=1)
        sampler = pipeline.compiled_sampler(wan_config, config.lora.scale, sample_config, guided=True)
        trainable = holder["state"]["trainable"]
        sample_params = dict(trainer.frozen)  # the base weights, and the trained condition embedding if separate
        if "condition_embedding" in trainable:
            sample_params["condition_embedding"] = trainable["condition_embedding"]
        inputs = (sample_params, trainable["lora"], condition[:1], text["prompt"][None], text["empty"][None],
                  jax.random.PRNGKey(0))
        started = time.perf_counter()
        compiled = sampler.lower(*inputs).compile()
        sample_compile_s = time.perf_counter() - started
        jax.block_until_ready(compiled(*inputs))
        seconds = best_seconds(lambda: jax.block_until_ready(compiled(*inputs)), args.repeats)
        result["sampling_step"] = {"compile_s": sample_compile_s, "seconds": seconds, "guidance": True,
                                   "device_memory": device_memory_mb(device)}
    result["peak_host_memory_mb"] = peak_host_memory_mb()
    result["load_average_end"] = load_average()
    return result
