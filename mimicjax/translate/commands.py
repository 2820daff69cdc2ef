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
    add_text_arguments(sample)
    sample.add_argument("--lora", metavar="FILE", default=None,
                        help="LoRA adapter safetensors (with its condition embedding when `translate finetune` saved one)")
    add_sampler_arguments(sample, shift=5.0)
    sample.add_argument("--max-frames", type=int, default=81, help="sample at most this many frames (1 + 4k)")
    sample.add_argument("--size", default=None, metavar="WxH",
                        help="resize the video to this grid (scaled to cover, centre-cropped; multiples of the VAE's "
                        "compression x the patch, e.g. 1280x704 for TI2V-5B); default: its own size rounded down")
    sample.add_argument("--fps", type=float, default=None, help="resample the video to this frame rate (default: its own)")
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
    add_override_argument(finetune)
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
    make_data.add_argument("--gripper-colour", default=None, metavar="NAME|R,G,B",
                           help="colour the robot's gripper (palm and fingers), e.g. cyan, so that `translate eval` "
                           "can find it in generated videos (default: the arm's greys)")
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
        add_removal_arguments(kind)
        kind.add_argument("--out", metavar="H2REP.mp4", help="output video")
    robot.add_argument("--poses", metavar="POSES", help="gripper poses: npz/json with position + quaternion/rotation, "
                       "or DROID cartesian_position")
    robot.add_argument("--camera", metavar="CAMERA.json", help="intrinsics and extrinsics of the video's camera")
    robot.add_argument("--approach-axis", type=int, choices=(0, 1, 2), default=2,
                       help="column of the gripper rotation that points from the wrist to the fingertips (default 2: z)")
    add_hand_arguments(human)
    prepare.set_defaults(func=_prepare)

    fit_vae = sub.add_parser(
        "fit-vae",
        help="fit a small Wan VAE to a dataset's training clips: a working codec for CPU runs of random-weight presets",
        description="Train the config's VAE preset (model.vae_preset) from random weights as an autoencoder on random "
        "crops of the dataset's H2Rep and robot videos, fitted to the config's grid; the held-out clips of the "
        "config's split are left out and scored. Writes a diffusers AutoencoderKLWan folder with latent "
        "statistics, for `translate finetune --vae OUT`. Real runs use the released Wan VAE instead.",
    )
    fit_vae.add_argument("--config", required=True, metavar="EXPERIMENT.py", help="the fine-tuning experiment (grid, split, preset)")
    fit_vae.add_argument("--data", required=True, metavar="DATASET", help="clip folders with h2rep.mp4 and video.mp4")
    fit_vae.add_argument("--out", required=True, metavar="VAE_DIR", help="the VAE folder to write")
    fit_vae.add_argument("--steps", type=int, default=600, metavar="N", help="training batches (default 600)")
    fit_vae.add_argument("--batch", type=int, default=4, metavar="B", help="crops per batch (default 4)")
    fit_vae.add_argument("--crop", type=int, default=32, metavar="PX", help="crop side in pixels (default 32)")
    fit_vae.add_argument("--crop-frames", type=int, default=5, metavar="F", help="frames per crop, 1 + 4k (default 5)")
    fit_vae.add_argument("--lr", type=float, default=2e-3, help="peak Adam learning rate (cosine decay)")
    fit_vae.add_argument("--seed", type=int, default=0)
    add_override_argument(fit_vae)
    fit_vae.set_defaults(func=_fit_vae)

    run = sub.add_parser(
        "run",
        help="a human video -> its H2Rep -> a robot video, with a side-by-side (input | H2Rep | output)",
        description="Translate a human video end to end: remove the person and draw the gripper cue from the "
        "hand keypoints (as `translate prepare human` does, with the same flags), fit the H2Rep video to the "
        "model's grid, sample the robot video with the fine-tuned translator and write it, and a side-by-side "
        "of the input, the H2Rep and the output. --ckpt RUN_DIR (a `translate finetune` run folder) is enough: "
        "the run records its base, VAE, adapter, prompt embeddings and grid.",
    )
    run.add_argument("video", metavar="HUMAN.mp4", help="the human video (mp4, any video imageio reads, or a folder of frames)")
    run.add_argument("--ckpt", required=True, metavar="RUN_DIR|CKPT",
                     help="a `translate finetune` run folder, or a base checkpoint from `translate convert`")
    run.add_argument("--lora", default=None, metavar="FILE|RUN_DIR",
                     help="the adapter: lora.safetensors, or a run folder (then its VAE, prompt embeddings and grid "
                     "too); default: the --ckpt run's")
    run.add_argument("--vae", default=None, metavar="PATH", help="the Wan VAE (default: the run's)")
    add_text_arguments(run)
    add_removal_arguments(run)
    add_hand_arguments(run)
    run.add_argument("--out", required=True, metavar="ROBOT.mp4", help="the robot video")
    run.add_argument("--side-by-side", default=None, metavar="MP4",
                     help="input | H2Rep | output (default: ROBOT_side_by_side.mp4 beside --out)")
    add_sampler_arguments(run, shift=None)
    run.add_argument("--dtype", choices=("float32", "bfloat16"), default=None,
                     help="transformer compute dtype of a `translate convert` checkpoint (a run uses its own)")
    run.set_defaults(func=_run)

    evaluate = sub.add_parser(
        "eval",
        help="score a fine-tuned translator on its held-out robot clips (PSNR, SSIM, cue following)",
        description="Sample every held-out clip of a `translate finetune` run from its own H2Rep video with the "
        "fine-tuned model and with the untuned base (same noise), and score both against the real video: "
        "PSNR, SSIM, PSNR against the VAE's reconstruction (the transformer alone), and the distance between "
        "the cue and the gripper found by its colour (datasets rendered with `make-data --gripper-colour`). "
        "Per clip and overall, as JSON and a table.",
    )
    evaluate.add_argument("--run-dir", required=True, metavar="DIR", help="the `translate finetune` run folder")
    evaluate.add_argument("--data", default=None, metavar="DATASET",
                          help="the dataset whose held-out split is scored (default: the run's)")
    evaluate.add_argument("--json", required=True, metavar="OUT.json", help="where the scores go")
    evaluate.add_argument("--clips", type=int, default=None, metavar="N", help="only the first N held-out clips")
    evaluate.add_argument("--videos", default=None, metavar="DIR",
                          help="also write each clip as real | H2Rep | untuned | fine-tuned into DIR/<clip>.mp4")
    add_sampler_arguments(evaluate, shift=None)
    evaluate.set_defaults(func=_eval)


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


def prompt_embeddings_from_args(args, text_dim: int):
    """(prompt embedding, negative embedding or None) from the text flags of `translate sample`."""
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

    from mimicjax.translate.pipeline import translate_video, with_adapter
    from mimicjax.translate.translator import requested_grid
    from mimicjax.video import fit_video, read_video, write_video
    from mimicjax.translate.wan.convert import load_checkpoint
    from mimicjax.translate.wan.transformer import WanModel
    from mimicjax.translate.wan.vae import load_diffusers_vae

    start = time.perf_counter()
    config, params, _ = load_checkpoint(args.ckpt, dtype=args.dtype)
    model = WanModel(config, params)
    if args.lora:
        model = with_adapter(model, args.lora)
    vae = load_diffusers_vae(args.vae)
    text, negative = prompt_embeddings_from_args(args, config.text_dim)
    if args.fps:  # the seconds that `--max-frames` frames at --fps span
        frames, fps = read_video(args.condition, max_seconds=(args.max_frames + 1) / args.fps)
    else:
        frames, fps = read_video(args.condition, max_frames=args.max_frames)
    multiple = vae.config.spatial_factor * config.patch_size[1]
    grid = requested_grid(frames.shape[2], frames.shape[1], len(frames), fps, args.max_frames, multiple,
                          size=parse_size(args.size) if args.size else None, target_fps=args.fps)
    frames = fit_video(frames, fps, width=grid.width, height=grid.height, num_frames=grid.frames, target_fps=grid.fps)
    sample_config = sample_config_from_args(args)
    video = translate_video(model, vae, frames, text, negative if args.guidance != 1.0 else None, sample_config)
    write_video(args.out, video, fps=grid.fps)
    print(f"wrote {args.out} ({video.shape[0]} frames {video.shape[2]}x{video.shape[1]}) in "
          f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    import sys
    import time

    from mimicjax.translate.h2rep import prepare as prepare_lib
    from mimicjax.video import write_video

    start = time.perf_counter()
    check_removal_arguments(args)
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
    if args.prepare_kind == "robot":
        prepared = prepare_lib.prepare_robot(args.video, args.poses, args.camera, approach_axis=args.approach_axis,
                                             **removal_kwargs(args))
    else:
        prepared = prepare_lib.prepare_human(args.video, args.hands, **human_kwargs(args))
    write_video(args.out, prepared.frames, fps=prepared.fps)
    t, h, w, _ = prepared.frames.shape
    shown = int(prepared.track.visible.sum())
    print(f"wrote {args.out} ({t} frames {w}x{h}, cue on {shown}) in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


def _fit_vae(args: argparse.Namespace) -> int:
    import sys
    import time

    import jax.numpy as jnp
    import numpy as np

    from mimicjax.config import apply_overrides
    from mimicjax.translate.finetune_config import load_finetune_config
    from mimicjax.translate.finetune_data import split_videos
    from mimicjax.translate.h2rep.removal import psnr
    from mimicjax.translate.pipeline import model_output_to_video, video_to_model_input
    from mimicjax.translate.wan import vae as vae_lib
    from mimicjax.translate.wan.vae_fit import fit_vae, save_diffusers_vae

    if min(args.steps, args.batch) < 1 or not args.lr > 0:
        raise ValueError(f"--steps and --batch must be >= 1 and --lr positive, got {args.steps}, {args.batch}, {args.lr}")
    config = apply_overrides(load_finetune_config(args.config), args.overrides)
    if not config.model.vae_preset:
        raise ValueError(f"{args.config}: model.vae_preset is empty; fit-vae trains a preset's architecture")
    start = time.perf_counter()
    train, held_out = split_videos(args.data, config.data)
    vae = fit_vae(vae_lib.preset(config.model.vae_preset), train, steps=args.steps, batch=args.batch, crop=args.crop,
                  frames=args.crop_frames, learning_rate=args.lr, seed=args.seed)
    save_diffusers_vae(vae, args.out)
    scores = {}
    for name, videos in (("training", train[:len(held_out)]), ("held-out", held_out)):  # as many of each
        decoded = [model_output_to_video(vae.decode(vae.encode(jnp.asarray(video_to_model_input(v, 1))))) for v in videos]
        scores[name] = psnr(np.stack(decoded), videos)
    print(f"wrote {args.out} ({config.model.vae_preset}, {len(train)} training videos) in {time.perf_counter() - start:.1f}s; "
          f"reconstruction PSNR {scores['training']:.2f} dB on the training videos, {scores['held-out']:.2f} dB held out",
          file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from mimicjax.translate.translator import load_translator, translate_human_video
    from mimicjax.video import side_by_side, write_video

    start = time.perf_counter()
    check_removal_arguments(args)
    if args.hands is None:
        raise ValueError("translate run needs the hand keypoints of the video: --hands HANDS (HaMeR / WiLoR / MediaPipe)")
    if args.masks is None and args.removed is None:
        raise ValueError("translate run needs what to remove: --masks MASKS (the person's masks) or --removed VIDEO")
    if not Path(args.video).exists():
        raise FileNotFoundError(f"no video at {args.video}")
    prepare_kwargs = human_kwargs(args)  # checked before the models load
    translator = load_translator(args.ckpt, lora=args.lora, vae=args.vae, text_args=args, dtype=args.dtype)
    print("translator: " + "; ".join(f"{part} {where}" for part, where in translator.sources.items()), file=sys.stderr)
    sample_config = sample_config_from_args(args, translator.shift)
    videos = translate_human_video(args.video, {"hands": args.hands, **prepare_kwargs}, translator, sample_config)
    out = Path(args.out)
    both = Path(args.side_by_side) if args.side_by_side else out.with_name(f"{out.stem}_side_by_side{out.suffix}")
    fps = videos["grid"].fps
    write_video(out, videos["output"], fps=fps)
    write_video(both, side_by_side(videos["input"], videos["h2rep"], videos["output"]), fps=fps)
    t, h, w, _ = videos["output"].shape
    print(f"wrote {out} ({t} frames {w}x{h} at {fps:g} fps) and {both} in {time.perf_counter() - start:.1f}s",
          file=sys.stderr)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from mimicjax.translate.evaluate import evaluate_run, table, write_report
    from mimicjax.translate.translator import read_finetune_run

    if args.clips is not None and args.clips < 1:
        raise ValueError(f"--clips must be >= 1, got {args.clips}")
    run = read_finetune_run(args.run_dir)
    report = evaluate_run(args.run_dir, args.data, sample_config=sample_config_from_args(args, run.config.flow.shift),
                          max_clips=args.clips, videos_dir=args.videos)
    write_report(report, args.json)
    print(table(report))
    print(f"wrote {args.json}")
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
    from mimicjax.translate.h2rep.scene import gripper_colour

    width, height = parse_size(args.size)
    gripper_rgb = None if args.gripper_colour is None else gripper_colour(args.gripper_colour)
    start = time.perf_counter()
    common = {"width": width, "height": height, "frames": args.frames, "fps": args.fps, "seed": args.seed,
              "supersample": args.supersample}
    clips = make_dataset(args.out, args.videos, gripper_rgb=gripper_rgb, **common)
    if args.human:
        clips += make_dataset(args.out, args.videos, human=True, **common)
    print(f"wrote {len(clips)} clips ({width}x{height}, {args.frames} frames) to {args.out} in "
          f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0


# ---- arguments shared by several commands ------------------------------------------------------------


def add_override_argument(parser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set optim.learning_rate=3e-4 (repeatable)")


def add_text_arguments(parser) -> None:
    """The prompt embeddings of sampling: files, or a umT5 encoder with the prompts."""
    parser.add_argument("--text-embeddings", metavar="NPY", default=None,
                        help="prompt embeddings [S, text_dim] (.npy/.npz); default: encode --prompt with --text-encoder")
    parser.add_argument("--negative-embeddings", metavar="NPY", default=None,
                        help="negative-prompt embeddings for guidance: the empty-prompt embedding the model was "
                        "fine-tuned to (default: --negative-prompt through --text-encoder)")
    parser.add_argument("--text-encoder", metavar="DIR", default=None, help="umT5 encoder folder (with its tokenizer)")
    parser.add_argument("--prompt", default=None, help="prompt (default: H2R-Grounder's fixed robot prompt)")
    parser.add_argument("--negative-prompt", default="", help="negative prompt, with --text-encoder (default: empty)")


def add_sampler_arguments(parser, shift: float | None) -> None:
    """Steps, shift, guidance, solver and seed of the flow-matching sampler (`shift` None: the run's)."""
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--shift", type=float, default=shift,
                        help="noise schedule shift" + (" (default: the fine-tuning run's)" if shift is None else ""))
    parser.add_argument("--guidance", type=float, default=5.0, help="classifier-free guidance scale (1: off)")
    parser.add_argument("--solver", choices=("unipc", "euler"), default="unipc")
    parser.add_argument("--seed", type=int, default=0)


def sample_config_from_args(args, run_shift: float | None = None):
    """The `SampleConfig` of the sampler flags; an unset --shift takes the run's (else 5)."""
    from mimicjax.translate.pipeline import SampleConfig

    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    shift = args.shift if args.shift is not None else run_shift if run_shift is not None else 5.0
    return SampleConfig(steps=args.steps, shift=shift, guidance_scale=args.guidance, solver=args.solver, seed=args.seed)


def add_removal_arguments(parser) -> None:
    """How H2Rep removes the embodiment from a video (`translate prepare`, `translate run`)."""
    parser.add_argument("--masks", metavar="MASKS", default=None,
                        help="what to remove: folder of PNGs (SAM2) or .npy (Grounded-SAM2), mask video, or npz")
    parser.add_argument("--mask-ids", metavar="ID,ID", default=None, help="only these object ids of id-valued masks")
    parser.add_argument("--removed", metavar="VIDEO", default=None,
                        help="an already-inpainted video (MiniMax-Remover, ProPainter, ...) used as is instead of --masks")
    parser.add_argument("--dilate", type=int, default=0, metavar="PX", help="grow the masks by this many pixels")
    parser.add_argument("--align", action="store_true", help="align frames by homography first (moving camera)")
    parser.add_argument("--window", type=int, default=32, metavar="N",
                        help="frames searched before and after each frame for the background (default 32)")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N", help="only the first N frames")
    parser.add_argument("--fps", type=float, default=None, metavar="R",
                        help="frame rate of the output (default: the video's; needed for a folder of frames)")


def add_hand_arguments(parser) -> None:
    """The hand keypoints the cue of a human video is drawn from."""
    parser.add_argument("--hands", metavar="HANDS", help="hand keypoints: HaMeR / WiLoR npz (3-D) or MediaPipe npz/json")
    parser.add_argument("--camera", metavar="CAMERA.json", default=None,
                        help="camera for 3-D keypoints (default: the focal length in the keypoint file)")
    parser.add_argument("--missing", choices=("hold", "hide"), default="hold",
                        help="frames without a detected hand: keep the last cue (default) or draw none")
    parser.add_argument("--max-hold", type=int, default=None, metavar="N", help="with --missing hold: at most N frames")


def check_removal_arguments(args) -> None:
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.window < 1 or args.dilate < 0:
        raise ValueError(f"--window must be >= 1 and --dilate >= 0, got {args.window} and {args.dilate}")
    if args.fps is not None and not args.fps > 0:
        raise ValueError(f"--fps must be positive, got {args.fps}")
    if getattr(args, "max_hold", None) is not None and args.max_hold < 0:
        raise ValueError(f"--max-hold must be >= 0, got {args.max_hold}")


def removal_kwargs(args) -> dict:
    """The removal flags as keyword arguments of `h2rep.prepare.prepare_robot` / `prepare_human`."""
    if args.masks is not None and args.removed is not None:
        raise ValueError("give --masks (remove here) or --removed (already inpainted), not both")
    try:
        ids = None if args.mask_ids is None else [int(v) for v in args.mask_ids.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--mask-ids takes whole numbers separated by commas, e.g. 1,3; got {args.mask_ids!r}") from None
    return {"masks": args.masks, "removed": args.removed, "max_frames": args.max_frames, "dilate": args.dilate,
            "align": args.align, "window": args.window, "mask_ids": ids, "fps": args.fps}


def human_kwargs(args) -> dict:
    """The removal and hand flags as keyword arguments of `h2rep.prepare.prepare_human` (all but the hands)."""
    return {**removal_kwargs(args), "camera": args.camera, "missing": args.missing, "max_hold": args.max_hold}
