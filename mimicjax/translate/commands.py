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
                        help="negative-prompt embeddings for guidance: the empty-prompt embedding the model was "
                        "fine-tuned to (default: --negative-prompt through --text-encoder)")
    sample.add_argument("--text-encoder", metavar="DIR", default=None, help="umT5 encoder folder (with its tokenizer)")
    sample.add_argument("--prompt", default=None, help="prompt (default: H2R-Grounder's fixed robot prompt)")
    sample.add_argument("--negative-prompt", default="", help="negative prompt, with --text-encoder (default: empty)")
    sample.add_argument("--lora", metavar="FILE", default=None,
                        help="LoRA adapter safetensors (with its condition embedding when `translate finetune` saved one)")
    sample.add_argument("--steps", type=int, default=30)
    sample.add_argument("--shift", type=float, default=5.0)
    sample.add_argument("--guidance", type=float, default=5.0, help="classifier-free guidance scale (1: off)")
    sample.add_argument("--solver", choices=("unipc", "euler"), default="unipc")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--max-frames", type=int, default=81, help="read at most this many frames")
    sample.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="transformer compute dtype")
    sample.set_defaults(func=_sample)

    finetune = sub.add_parser(
        "finetune",
        help="LoRA fine-tuning of the in-context translator on (H2Rep, robot video) pairs",
        description="Flow-matching fine-tuning of the Wan transformer with the H2Rep video as in-context "
        "condition (its tokens at timestep 0 on the target's position grid): LoRA on self-attention, text "
        "dropout for guidance, AdamW with warm-up, gradient accumulation. Latents are cached in DATASET once; "
        "checkpoints, TensorBoard logs, the held-out flow loss and the adapter (lora.safetensors) go to "
        "RUN_DIR. Re-running with --resume continues from the latest checkpoint.",
    )
    finetune.add_argument("--config", required=True, metavar="EXPERIMENT.py", help="experiment file defining CONFIG")
    finetune.add_argument("--data", default=None, metavar="DATASET",
                          help="clip folders with h2rep.mp4 and video.mp4 (`translate make-data` + `translate prepare "
                          "robot --dataset`); a resumed run defaults to its own")
    finetune.add_argument("--run-dir", required=True, metavar="DIR", help="where checkpoints, logs and the adapter go")
    finetune.add_argument("--ckpt", default=None, metavar="CKPT",
                          help="base transformer from `translate convert` (default: the config's random-weight preset)")
    finetune.add_argument("--vae", default=None, metavar="PATH",
                          help="Wan VAE (diffusers folder or original file; default: the config's random-weight preset)")
    finetune.add_argument("--text-embeddings", default=None, metavar="NPY", help="the prompt's umT5 embeddings [S, text_dim]")
    finetune.add_argument("--negative-embeddings", default=None, metavar="NPY",
                          help="the empty prompt's umT5 embeddings (what text dropout trains with)")
    finetune.add_argument("--text-encoder", default=None, metavar="DIR",
                          help="umT5 encoder folder with its tokenizer: encodes the prompt and the empty prompt once")
    finetune.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                          help="override a config field, e.g. --set optim.learning_rate=3e-4 (repeatable)")
    finetune.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --run-dir")
    finetune.set_defaults(func=_finetune)

    make_data = sub.add_parser(
        "make-data",
        help="render the project's robot-video dataset (arm masks, clean background, gripper poses, camera)",
        description="Render table-top clips of a robot arm reaching, pushing and picking (MuJoCo scenes, a "
        "numpy ray caster: no OpenGL needed), each with the arm's masks, the background with the arm "
        "hidden, the gripper poses and the camera; --human adds the same tasks done by a human forearm "
        "and hand with known hand keypoints.",
    )
    make_data.add_argument("--out", required=True, metavar="DIR", help="dataset folder (clip folders are written in it)")
    make_data.add_argument("--videos", type=int, default=8, metavar="N", help="robot clips (default 8)")
    make_data.add_argument("--size", default="320x240", metavar="WxH", help="frame size (default 320x240)")
    make_data.add_argument("--frames", type=int, default=33, metavar="F", help="frames per clip (default 33)")
    make_data.add_argument("--fps", type=float, default=10.0, metavar="R", help="frame rate (default 10)")
    make_data.add_argument("--seed", type=int, default=0, metavar="S")
    make_data.add_argument("--human", action="store_true", help="also render N human stand-in clips (same tasks)")
    make_data.add_argument("--supersample", type=int, default=2, metavar="K", help="anti-aliasing samples per pixel side")
    make_data.set_defaults(func=_make_data)

    prepare = sub.add_parser(
        "prepare",
        help="a robot or human video -> its H2Rep (embodiment removed, gripper cue drawn)",
        description="Remove the arm (robot) or the person (human) where the masks say, from the other "
        "frames of a static or slowly moving camera, then draw the gripper cue (red dot, blue arrow, "
        "alpha 0.4) from the gripper poses or hand keypoints. --dataset DIR does every clip of a "
        "`translate make-data` folder (writes <clip>/h2rep.mp4).",
    )
    kinds = prepare.add_subparsers(dest="prepare_kind", metavar="KIND")
    kinds.required = True
    robot = kinds.add_parser("robot", help="robot video + arm masks + gripper poses + camera")
    human = kinds.add_parser("human", help="human video + person masks + hand keypoints")
    for kind in (robot, human):
        kind.add_argument("--dataset", metavar="DIR", default=None,
                          help="prepare every clip of this kind in a `make-data` folder instead (writes <clip>/h2rep.mp4)")
        kind.add_argument("--video", metavar="VIDEO", help="mp4 (or any video imageio reads) or a folder of frames")
        kind.add_argument("--masks", metavar="MASKS", default=None,
                          help="what to remove: folder of PNGs (SAM2) or .npy (Grounded-SAM2), mask video, or npz")
        kind.add_argument("--mask-ids", metavar="ID,ID", default=None, help="only these object ids of id-valued masks")
        kind.add_argument("--removed", metavar="VIDEO", default=None,
                          help="an already-inpainted video (MiniMax-Remover, ProPainter, ...) used as is instead of --masks")
        kind.add_argument("--dilate", type=int, default=0, metavar="PX", help="grow the masks by this many pixels")
        kind.add_argument("--align", action="store_true", help="align frames by homography first (moving camera)")
        kind.add_argument("--window", type=int, default=32, metavar="N",
                          help="frames searched before and after each frame for the background (default 32)")
        kind.add_argument("--max-frames", type=int, default=None, metavar="N", help="only the first N frames")
        kind.add_argument("--fps", type=float, default=None, metavar="R",
                          help="frame rate of the output (default: the video's; needed for a folder of frames)")
        kind.add_argument("--out", metavar="H2REP.mp4", help="output video")
    robot.add_argument("--poses", metavar="POSES", help="gripper poses: npz/json with position + quaternion/rotation, "
                       "or DROID cartesian_position")
    robot.add_argument("--camera", metavar="CAMERA.json", help="intrinsics and extrinsics of the video's camera")
    robot.add_argument("--approach-axis", type=int, choices=(0, 1, 2), default=2,
                       help="column of the gripper rotation that points from the wrist to the fingertips (default 2: z)")
    human.add_argument("--hands", metavar="HANDS", help="hand keypoints: HaMeR / WiLoR npz (3-D) or MediaPipe npz/json")
    human.add_argument("--camera", metavar="CAMERA.json", default=None,
                       help="camera for 3-D keypoints (default: the focal length in the keypoint file)")
    human.add_argument("--missing", choices=("hold", "hide"), default="hold",
                       help="frames without a detected hand: keep the last cue (default) or draw none")
    human.add_argument("--max-hold", type=int, default=None, metavar="N", help="with --missing hold: at most N frames")
    prepare.set_defaults(func=_prepare)


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


def _finetune(args: argparse.Namespace) -> int:
    from mimicjax.translate.finetune import finetune_command

    return finetune_command(args)


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
    elif args.guidance != 1.0:
        # The unconditional branch must be what the model saw without its prompt, never made-up zeros.
        raise ValueError("guidance needs the empty-prompt embedding: give --negative-embeddings NPY (`translate "
                         "finetune` writes RUN_DIR/empty_prompt_embedding.npy), or --text-encoder DIR, or --guidance 1")
    else:
        negative = None
    return text, negative


def _sample(args: argparse.Namespace) -> int:
    import sys
    import time

    from mimicjax.translate.pipeline import SampleConfig, translate_video, with_adapter
    from mimicjax.video import read_video, write_video
    from mimicjax.translate.wan.convert import load_checkpoint
    from mimicjax.translate.wan.transformer import WanModel
    from mimicjax.translate.wan.vae import load_diffusers_vae

    start = time.perf_counter()
    config, params, _ = load_checkpoint(args.ckpt, dtype=args.dtype)
    model = WanModel(config, params)
    if args.lora:
        model = with_adapter(model, args.lora)
    vae = load_diffusers_vae(args.vae)
    text, negative = _text_embeddings(args, config.text_dim)
    frames, fps = read_video(args.condition, max_frames=args.max_frames)
    sample_config = SampleConfig(steps=args.steps, shift=args.shift, guidance_scale=args.guidance, solver=args.solver, seed=args.seed)
    video = translate_video(model, vae, frames, text, negative if args.guidance != 1.0 else None, sample_config)
    write_video(args.out, video, fps=fps)
    print(f"wrote {args.out} ({video.shape[0]} frames {video.shape[2]}x{video.shape[1]}) in "
          f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    import sys
    import time

    from mimicjax.translate.h2rep import prepare as prepare_lib
    from mimicjax.video import write_video

    start = time.perf_counter()
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.window < 1 or args.dilate < 0:
        raise ValueError(f"--window must be >= 1 and --dilate >= 0, got {args.window} and {args.dilate}")
    if args.fps is not None and not args.fps > 0:
        raise ValueError(f"--fps must be positive, got {args.fps}")
    if args.prepare_kind == "human" and args.max_hold is not None and args.max_hold < 0:
        raise ValueError(f"--max-hold must be >= 0, got {args.max_hold}")
    if args.dataset:
        per_clip = ["video", "masks", "removed", "out", "max_frames", "mask_ids", "fps", "camera"]
        per_clip += ["poses"] if args.prepare_kind == "robot" else ["hands", "max_hold"]
        given = [f"--{name.replace('_', '-')}" for name in per_clip if getattr(args, name) is not None]
        if args.prepare_kind == "robot" and args.approach_axis != 2:
            given.append("--approach-axis")
        if args.prepare_kind == "human" and args.missing != "hold":
            given.append("--missing")
        if given:
            raise ValueError(f"--dataset prepares every clip as the dataset describes it; drop {', '.join(given)}")
        written = prepare_lib.prepare_dataset(args.dataset, args.prepare_kind, dilate=args.dilate, align=args.align,
                                              window=args.window)
        print(f"wrote {len(written)} H2Rep videos of {args.prepare_kind} clips under {args.dataset} in "
              f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
        return 0
    needed = ["video", "out"] + (["poses", "camera"] if args.prepare_kind == "robot" else ["hands"])
    missing = [f"--{name}" for name in needed if getattr(args, name) is None]
    if missing:
        raise ValueError(f"translate prepare {args.prepare_kind} needs {', '.join(missing)} (or --dataset DIR)")
    if args.masks is not None and args.removed is not None:
        raise ValueError("give --masks (remove here) or --removed (already inpainted), not both")
    try:
        ids = None if args.mask_ids is None else [int(v) for v in args.mask_ids.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--mask-ids takes whole numbers separated by commas, e.g. 1,3; got {args.mask_ids!r}") from None
    common = {"masks": args.masks, "removed": args.removed, "max_frames": args.max_frames, "dilate": args.dilate,
              "align": args.align, "window": args.window, "mask_ids": ids, "fps": args.fps}
    if args.prepare_kind == "robot":
        prepared = prepare_lib.prepare_robot(args.video, args.poses, args.camera, approach_axis=args.approach_axis, **common)
    else:
        prepared = prepare_lib.prepare_human(args.video, args.hands, camera=args.camera, missing=args.missing,
                                             max_hold=args.max_hold, **common)
    write_video(args.out, prepared.frames, fps=prepared.fps)
    t, h, w, _ = prepared.frames.shape
    shown = int(prepared.track.visible.sum())
    print(f"wrote {args.out} ({t} frames {w}x{h}, cue on {shown}) in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def parse_size(text: str, flag: str = "--size") -> tuple[int, int]:
    """'WxH' -> (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{flag} must look like 320x240 (width x height), got {text!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"{flag} must be positive, got {text!r}")
    return width, height


def _make_data(args: argparse.Namespace) -> int:
    import sys
    import time

    from mimicjax.translate.h2rep.dataset import make_dataset

    width, height = parse_size(args.size)
    start = time.perf_counter()
    common = {"width": width, "height": height, "frames": args.frames, "fps": args.fps, "seed": args.seed,
              "supersample": args.supersample}
    clips = make_dataset(args.out, args.videos, **common)
    if args.human:
        clips += make_dataset(args.out, args.videos, human=True, **common)
    print(f"wrote {len(clips)} clips ({width}x{height}, {args.frames} frames) to {args.out} in "
          f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0
