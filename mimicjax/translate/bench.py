"""`mimicjax bench translate`: Wan transformer forward throughput, Flax against diffusers, same run.

For each named config (random weights shared by both), one latent video of `--frames` x `--size` x
`--size` is pushed through the transformer: Flax (jitted; compile seconds reported apart) and diffusers
(torch, no_grad, float32). Reports tokens/s (tokens = patched latent positions x batch), the max
difference between the two outputs, the process's peak RSS and JAX device memory statistics where the
backend provides them. Unless `--no-vae`, a random Wan 2.1-layout VAE's encode/decode frames/s is
measured the same way (Flax against diffusers' `AutoencoderKLWan`, same weights).
"""

from __future__ import annotations

import argparse

from mimicjax.bench.common import best_seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configs", default="tiny,small,medium", help="comma-separated Wan presets (see wan/configs.py)"
    )
    parser.add_argument("--frames", type=int, default=4, help="latent frames")
    parser.add_argument("--size", type=int, default=32, help="latent height = width")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--text-len", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes per implementation")
    parser.add_argument("--no-vae", dest="vae", action="store_false", help="skip the VAE measurement")
    parser.add_argument("--vae-base-dim", type=int, default=32, help="VAE width (the released VAEs: 96 / 160)")
    parser.add_argument("--vae-frames", type=int, default=5, help="video frames for the VAE (1 + 4k)")
    parser.add_argument("--vae-size", type=int, default=64, help="video height = width for the VAE")
    parser.add_argument("--seed", type=int, default=0)


def _transformer_row(name: str, args) -> dict:
    import time

    import numpy as np

    from mimicjax.translate.wan.configs import preset
    from mimicjax.translate.wan.convert import params_from_state_dict
    from mimicjax.translate.wan.transformer import WanModel

    config = preset(name)
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, config.in_channels, args.frames, args.size, args.size)).astype(np.float32)
    t = rng.uniform(0, 1000, (args.batch,)).astype(np.float32)
    ctx = rng.standard_normal((args.batch, args.text_len, config.text_dim)).astype(np.float32)
    pt, ph, pw = config.patch_size
    tokens = args.batch * (args.frames // pt) * (args.size // ph) * (args.size // pw)
    row: dict = {"tokens": tokens, "layers": config.num_layers, "width": config.inner_dim}

    reference = None
    try:
        import torch
        from diffusers import WanTransformer3DModel

        torch.manual_seed(args.seed)
        kwargs = {k: v for k, v in config.to_diffusers().items() if not k.startswith("_")}
        reference = WanTransformer3DModel(**kwargs).eval()
        state = {k: v.numpy() for k, v in reference.state_dict().items()}
    except ImportError:
        from mimicjax.translate.wan.transformer import init_params

        state = None
    params = params_from_state_dict(state, config) if state is not None else init_params(config, args.seed)
    model = WanModel(config, params)

    start = time.perf_counter()
    compiled = model._jitted.lower(model.variables(), x, t, ctx, None).compile()
    row["compile_s"] = time.perf_counter() - start
    variables = model.variables()
    out = compiled(variables, x, t, ctx, None)
    out.block_until_ready()
    seconds = best_seconds(lambda: compiled(variables, x, t, ctx, None).block_until_ready(), args.repeats)
    row["flax_s"] = seconds
    row["flax_tokens_per_s"] = tokens / seconds

    if reference is not None:
        import torch

        inputs = [torch.from_numpy(a) for a in (x, t, ctx)]
        with torch.no_grad():
            expected = reference(*inputs).sample.numpy()

            def run_torch():
                reference(*inputs)

            seconds = best_seconds(run_torch, args.repeats)
        row["diffusers_s"] = seconds
        row["diffusers_tokens_per_s"] = tokens / seconds
        row["speedup_vs_diffusers"] = row["flax_tokens_per_s"] / row["diffusers_tokens_per_s"]
        row["max_abs_diff"] = float(np.abs(np.asarray(out) - expected).max())
        row["torch_threads"] = torch.get_num_threads()
    return row


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _vae_row(args) -> dict | None:
    """Encode / decode frames/s of a random Wan 2.1-layout VAE, Flax against diffusers, same weights."""
    import time

    import numpy as np

    try:
        from mimicjax.translate.wan.vae import WanVAE, WanVAEConfig
    except ImportError:
        return None
    frames, size = args.vae_frames, args.vae_size
    shape = dict(base_dim=args.vae_base_dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1,
                 temperal_downsample=[False, True, True])
    video = np.random.default_rng(args.seed).uniform(-1, 1, (1, 3, frames, size, size)).astype(np.float32)
    row: dict = {"config": {**shape, "video_frames": frames, "video_size": [size, size]}}

    reference = None
    try:
        import torch
        from diffusers import AutoencoderKLWan

        torch.manual_seed(args.seed)
        reference = AutoencoderKLWan(**shape).eval()
        vae = WanVAE.from_torch_state_dict(dict(reference.config), reference.state_dict())
    except ImportError:
        vae = WanVAE.from_config(WanVAEConfig(**shape), seed=args.seed)

    start = time.perf_counter()
    latents = vae.encode(video)
    decoded = vae.decode(latents)
    decoded.block_until_ready()
    row["flax_first_call_s"] = time.perf_counter() - start  # compiles the four chunk steps
    encode_s = best_seconds(lambda: vae.encode(video).block_until_ready(), args.repeats)
    decode_s = best_seconds(lambda: vae.decode(latents).block_until_ready(), args.repeats)
    row["flax_encode_frames_per_s"] = frames / encode_s
    row["flax_decode_frames_per_s"] = frames / decode_s
    row["rss_mb_after_flax"] = _rss_mb()

    if reference is not None:
        x = torch.from_numpy(video)
        z = torch.from_numpy(np.array(latents))
        with torch.no_grad():
            ref_latents = reference.encode(x).latent_dist.mean
            ref_video = reference.decode(z).sample
            encode_s = best_seconds(lambda: reference.encode(x), args.repeats)
            decode_s = best_seconds(lambda: reference.decode(z), args.repeats)
        row["diffusers_encode_frames_per_s"] = frames / encode_s
        row["diffusers_decode_frames_per_s"] = frames / decode_s
        row["encode_speedup_vs_diffusers"] = row["flax_encode_frames_per_s"] / row["diffusers_encode_frames_per_s"]
        row["decode_speedup_vs_diffusers"] = row["flax_decode_frames_per_s"] / row["diffusers_decode_frames_per_s"]
        row["max_abs_diff_encode"] = float(np.abs(np.asarray(latents) - ref_latents.numpy()).max())
        row["max_abs_diff_decode"] = float(np.abs(np.asarray(decoded) - ref_video.numpy()).max())
        row["rss_mb_after_diffusers"] = _rss_mb()
    return row


def run(args: argparse.Namespace) -> dict:
    import datetime
    import os
    import platform

    import jax

    result: dict = {
        "benchmark": "translate",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))},
        "shape": {"batch": args.batch, "latent_frames": args.frames, "latent_size": args.size, "text_len": args.text_len},
        "transformer": {},
    }
    try:
        import diffusers
        import torch

        result["torch"], result["diffusers"] = torch.__version__, diffusers.__version__
    except ImportError:
        pass
    for name in [n.strip() for n in args.configs.split(",") if n.strip()]:
        result["transformer"][name] = _transformer_row(name, args)
        result["transformer"][name]["rss_mb_after"] = _rss_mb()
    if args.vae:
        vae = _vae_row(args)
        if vae is not None:
            result["vae"] = vae
    result["peak_rss_mb"] = _rss_mb()
    result["load_average_end"] = list(os.getloadavg())
    stats = jax.devices()[0].memory_stats()
    if stats:
        result["device_memory"] = {k: v for k, v in stats.items() if "bytes" in k}
    return result
