"""`mimicjax translate ...`: convert Wan checkpoints and translate videos.

Only argparse is imported here; JAX and the models load inside the command functions.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    translate = subparsers.add_parser(
        "translate", help="human->robot video translation with the Wan 2.x transformer (H2R-Grounder)"
    )
    sub = translate.add_subparsers(dest="translate_command", metavar="COMMAND")
    sub.required = True

    convert = sub.add_parser(
        "convert",
        help="diffusers (or original Wan) transformer weights -> Orbax checkpoint",
        description="Stream a Wan transformer checkpoint (safetensors, fp32/bf16, sharded or not) into "
        "an Orbax checkpoint folder holding the Flax params and the resolved config.",
    )
    convert.add_argument("--diffusers", required=True, metavar="DIR",
                         help="transformer folder (config.json + *.safetensors), or one .safetensors file")
    convert.add_argument("--out", required=True, metavar="CKPT", help="new Orbax checkpoint folder")
    convert.add_argument("--layout", choices=("auto", "diffusers", "original"), default="auto",
                         help="key names of the weights (default: detect)")
    convert.add_argument("--param-dtype", choices=("float32", "bfloat16"), default="float32",
                         help="storage dtype of the large matrices (norms/modulation stay float32)")
    convert.set_defaults(func=_convert)

    sample = sub.add_parser(
        "sample",
        help="translate a condition video (H2Rep) into a robot video",
        description="Encode the condition video with the Wan VAE, sample target latents with the "
        "in-context transformer (condition tokens at timestep 0), decode and write an mp4.",
    )
    sample.add_argument("--ckpt", required=True, metavar="CKPT", help="Orbax checkpoint from `translate convert`")
    sample.add_argument("--condition", required=True, metavar="VIDEO", help="condition video (mp4/gif/...)")
    sample.add_argument("--out", required=True, metavar="OUT.mp4")
    sample.add_argument("--vae", required=True, metavar="PATH",
                        help="diffusers AutoencoderKLWan folder (or pipeline folder with vae/), or an original "
                        "Wan VAE file (Wan2.1_VAE.pth / Wan2.2_VAE.pth, or its .safetensors)")
    sample.add_argument("--text-embeddings", metavar="NPY", default=None,
                        help="prompt embeddings [S, text_dim] (.npy/.npz); default: encode --prompt with --text-encoder")
    sample.add_argument("--negative-embeddings", metavar="NPY", default=None,
                        help="negative-prompt embeddings for guidance (default: --negative-prompt through "
                        "--text-encoder, else all-zero embeddings)")
    sample.add_argument("--text-encoder", metavar="DIR", default=None, help="umT5 encoder folder (with its tokenizer)")
    sample.add_argument("--prompt", default=None, help="prompt (default: H2R-Grounder's fixed robot prompt)")
    sample.add_argument("--negative-prompt", default="", help="negative prompt, with --text-encoder (default: empty)")
    sample.add_argument("--lora", metavar="FILE", default=None, help="LoRA adapter safetensors")
    sample.add_argument("--steps", type=int, default=30)
    sample.add_argument("--shift", type=float, default=5.0)
    sample.add_argument("--guidance", type=float, default=5.0, help="classifier-free guidance scale (1: off)")
    sample.add_argument("--solver", choices=("unipc", "euler"), default="unipc")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--max-frames", type=int, default=81, help="read at most this many frames")
    sample.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="transformer compute dtype")
    sample.set_defaults(func=_sample)


def _convert(args: argparse.Namespace) -> int:
    import sys
    import time

    from mimicjax.translate.wan.convert import load_transformer_params, save_checkpoint

    start = time.perf_counter()
    config, params = load_transformer_params(args.diffusers, layout=args.layout, param_dtype=args.param_dtype)
    out = save_checkpoint(args.out, config, params, extra={"source": str(args.diffusers)})
    print(
        f"converted {args.diffusers} ({config.num_layers} layers, width {config.inner_dim}) -> {out} "
        f"in {time.perf_counter() - start:.1f}s",
        file=sys.stderr,
    )
    return 0


def _text_embeddings(args, text_dim: int):
    import numpy as np

    from mimicjax.translate.pipeline import DEFAULT_PROMPT, load_text_embeddings

    encoder = None
    if args.text_encoder:
        from mimicjax.translate.wan.text_encoder import load_umt5_encoder

        encoder = load_umt5_encoder(args.text_encoder)
    if args.text_embeddings:
        text = load_text_embeddings(args.text_embeddings)
    elif encoder is not None:
        text = np.asarray(encoder.embed_prompt(args.prompt or DEFAULT_PROMPT), np.float32)
    else:
        raise ValueError("give --text-embeddings NPY, or --text-encoder DIR (with --prompt)")
    if text.shape[-1] != text_dim:
        raise ValueError(f"text embeddings have width {text.shape[-1]}, the transformer expects {text_dim}")
    if args.negative_embeddings:
        negative = load_text_embeddings(args.negative_embeddings)
    elif encoder is not None:
        negative = np.asarray(encoder.embed_prompt(args.negative_prompt), np.float32)
    else:
        # Without an encoder there is no real "empty prompt" embedding; zeros are the neutral stand-in.
        negative = np.zeros_like(text)
    return text, negative


def _sample(args: argparse.Namespace) -> int:
    import sys
    import time

    from mimicjax.translate.pipeline import SampleConfig, read_video, translate_video, write_video
    from mimicjax.translate.wan.convert import load_checkpoint
    from mimicjax.translate.wan.transformer import WanModel
    from mimicjax.translate.wan.vae import load_diffusers_vae

    start = time.perf_counter()
    config, params, _ = load_checkpoint(args.ckpt, dtype=args.dtype)
    lora, lora_scale = None, 1.0
    if args.lora:
        from mimicjax.translate.lora import load_lora

        lora, lora_config = load_lora(args.lora)
        lora_scale = lora_config.scale
    model = WanModel(config, params, lora=lora, lora_scale=lora_scale)
    vae = load_diffusers_vae(args.vae)
    text, negative = _text_embeddings(args, config.text_dim)
    frames, fps = read_video(args.condition, max_frames=args.max_frames)
    sample_config = SampleConfig(steps=args.steps, shift=args.shift, guidance_scale=args.guidance, solver=args.solver, seed=args.seed)
    video = translate_video(model, vae, frames, text, negative if args.guidance != 1.0 else None, sample_config)
    write_video(args.out, video, fps=fps)
    print(f"wrote {args.out} ({video.shape[0]} frames {video.shape[2]}x{video.shape[1]}) in "
          f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0
