"""What `translate run` and `translate eval` sample with, found from a `translate finetune` run folder.

A run folder is enough: its checkpoints record the config (the model's runtime options, the training
grid, the random-weight presets of a CPU run) and where the base transformer, the VAE and the data came
from; beside them are the adapter (`lora.safetensors`) and the prompt and empty-prompt embeddings it was
trained with. Each piece can also be given on its own (`--ckpt CKPT --lora FILE --vae VAE
--text-embeddings ...`), or the base alone when the one the run recorded has moved (`--ckpt CKPT --lora
RUN_DIR`). Whatever is missing is named in the error, with the flag that supplies it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from mimicjax.translate.finetune import EMPTY_PROMPT_FILE, LORA_FILE, PROMPT_FILE, SOURCES_KEY


@dataclasses.dataclass(frozen=True)
class Grid:
    """The size, length and frame rate videos are fitted to before sampling."""

    width: int
    height: int
    frames: int  # 1 + 4k
    fps: float


@dataclasses.dataclass(frozen=True)
class FinetunedRun:
    run_dir: Path
    config: Any  # FinetuneConfig
    sources: dict  # {"ckpt", "vae", "data"}: absolute paths, "" where a random-weight preset was used

    @property
    def grid(self) -> Grid:
        d = self.config.data
        return Grid(d.width, d.height, d.frames, d.fps)

    def file(self, name: str) -> Path:
        """A file the run writes beside its checkpoints; an error naming it if it is missing."""
        path = self.run_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: `translate finetune` writes it into the run folder (was "
                                    f"the folder copied without it?)")
        return path


@dataclasses.dataclass(frozen=True)
class Translator:
    """A transformer (with its adapter, if any), the VAE, the prompt embeddings and the sampling grid."""

    model: Any  # WanModel
    vae: Any  # WanVAE
    text: np.ndarray  # [S, D] prompt embedding
    negative: np.ndarray | None  # [S, D] empty-prompt embedding (guidance's unconditional branch)
    grid: Grid | None  # None: the input video's own size and rate
    shift: float | None  # the run's training shift: the sampler's default
    sources: dict  # where each part came from, for the user


def is_finetune_run(path: str | Path | None) -> bool:
    return path is not None and (Path(path) / "checkpoints").is_dir()


def read_finetune_run(run_dir: str | Path) -> FinetunedRun:
    """The config and sources of a `translate finetune` run folder, from its newest checkpoint."""
    from mimicjax.translate.finetune_config import saved_finetune_config
    from mimicjax.train.checkpoint import read_config, read_metadata
    from mimicjax.train.runs import checkpoints_dir, has_checkpoints

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run folder at {run_dir}")
    if not has_checkpoints(run_dir):
        raise ValueError(f"{run_dir} holds no checkpoint of `translate finetune`; fine-tune into it first "
                         f"(mimicjax translate finetune --config EXPERIMENT.py --data DATASET --run-dir {run_dir})")
    config = saved_finetune_config(read_config(checkpoints_dir(run_dir)))
    sources = read_metadata(checkpoints_dir(run_dir)).get(SOURCES_KEY, {})
    return FinetunedRun(run_dir, config, {k: sources.get(k, "") for k in ("ckpt", "vae", "data")})


def recorded_source(run: FinetunedRun, kind: str, given: str | None, flag: str) -> str | None:
    """`given`, else the path the run recorded for `kind` ("ckpt", "vae", "data"; None: the config's
    random-weight preset), checked to still exist."""
    if given:
        return given
    path = run.sources.get(kind) or None
    if path is not None and not Path(path).exists():
        raise FileNotFoundError(f"{run.run_dir} was fine-tuned with {kind} {path}, which is not there any more; "
                                f"give it with {flag}")
    return path


def run_base_model(run: FinetunedRun, ckpt: str | None = None, compiler_options=None):
    """The untuned transformer the run started from (`ckpt` instead, if given), with the run's runtime options."""
    from mimicjax.translate.finetune import base_transformer
    from mimicjax.translate.wan.transformer import WanModel

    config, params = base_transformer(run.config, recorded_source(run, "ckpt", ckpt, "--ckpt CKPT --lora RUN_DIR"))
    return WanModel(config.replace(separate_condition_embedding=False), params, compiler_options=compiler_options)


def run_prompt_embeddings(run: FinetunedRun) -> tuple[np.ndarray, np.ndarray]:
    """(prompt, empty prompt) embeddings [S, D] the run was trained with."""
    return np.load(run.file(PROMPT_FILE)), np.load(run.file(EMPTY_PROMPT_FILE))


def _adapter_file(lora: str | None, run: FinetunedRun | None) -> Path | None:
    if lora and not is_finetune_run(lora):
        if not Path(lora).is_file():
            raise FileNotFoundError(f"no adapter file at {lora} (--lora takes lora.safetensors or a fine-tuning run folder)")
        return Path(lora)
    return run.file(LORA_FILE) if run is not None else None


def load_translator(ckpt: str, *, lora: str | None = None, vae: str | None = None, text_args=None,
                    dtype: str | None = None, compiler_options=None) -> Translator:
    """The translator of `ckpt`: a fine-tuning run folder (everything from it), or a `translate convert`
    checkpoint with `lora` (an adapter file, or a run folder supplying the adapter, the VAE, the prompt
    embeddings and the grid). `text_args` carries the sample command's text flags (--text-embeddings,
    --negative-embeddings, --text-encoder, --prompt, --negative-prompt, --guidance); given ones win.
    `compiler_options`: XLA options of the transformer and VAE programs."""
    from mimicjax.translate.finetune import load_vae
    from mimicjax.translate.pipeline import with_adapter
    from mimicjax.translate.wan.convert import load_checkpoint
    from mimicjax.translate.wan.transformer import WanModel
    from mimicjax.translate.wan.vae import load_diffusers_vae

    if not Path(ckpt).exists():
        raise FileNotFoundError(f"no checkpoint or run folder at {ckpt} (--ckpt takes a `translate finetune` run folder "
                                f"or a `translate convert` checkpoint)")
    run_dir = ckpt if is_finetune_run(ckpt) else lora if is_finetune_run(lora) else None
    run = read_finetune_run(run_dir) if run_dir is not None else None
    runtime = {} if dtype is None else {"dtype": dtype}
    if run is not None:
        base = run_base_model(run, None if run_dir == ckpt else ckpt, compiler_options)
    else:
        config, params, _ = load_checkpoint(ckpt, **runtime)
        base = WanModel(config, params, compiler_options=compiler_options)
    adapter = _adapter_file(lora, run)
    model = with_adapter(base, adapter) if adapter is not None else base
    if run is not None:
        vae_model = load_vae(run.config, recorded_source(run, "vae", vae, "--vae PATH"), compiler_options)[0]
    elif vae:
        vae_model = load_diffusers_vae(vae, compiler_options=compiler_options)
    else:
        raise ValueError(f"{ckpt} is a transformer checkpoint: give its VAE with --vae PATH, or a fine-tuning run "
                         f"folder as --ckpt or --lora (it records its VAE)")
    text, negative, text_source = _prompt_embeddings(run, text_args, base.config.text_dim)
    sources = {"transformer": str(run_dir if run_dir == ckpt else ckpt), "adapter": str(adapter) if adapter else None,
               "vae": str(vae or (run.sources["vae"] if run else "") or f"random {run.config.model.vae_preset}"),
               "prompt embeddings": text_source}
    return Translator(model, vae_model, text, negative, run.grid if run else None,
                      run.config.flow.shift if run else None, sources)


def _prompt_embeddings(run: FinetunedRun | None, text_args, text_dim: int):
    """(prompt, empty prompt or None, source): from the text flags when any is given, else the run's files."""
    given = text_args is not None and any(getattr(text_args, name, None) for name in
                                          ("text_embeddings", "negative_embeddings", "text_encoder"))
    if given or run is None:
        if text_args is None:
            raise ValueError("give the prompt embeddings (--text-embeddings and --negative-embeddings, or --text-encoder)")
        from mimicjax.translate.commands import prompt_embeddings_from_args

        text, negative = prompt_embeddings_from_args(text_args, text_dim)
        return text, negative, "the text flags"
    prompt, empty = run_prompt_embeddings(run)
    return prompt, empty, str(run.run_dir)


def frames_that_fit(count: int, fps: float, target_fps: float, limit: int) -> int:
    """The most frames, 1 + 4k and at most `limit`, that `count` frames at `fps` give at `target_fps`."""
    from mimicjax.video import fit_frame_count

    frames = min(limit, fit_frame_count(count, fps, target_fps))
    return frames - (frames - 1) % 4


def video_grid(translator: Translator, width: int, height: int, count: int, fps: float, max_frames: int) -> Grid:
    """The grid a `count`-frame `width` x `height` video at `fps` is sampled on: the translator's (as many
    of its frames as the video lasts), or the video's own size rounded down to the model's multiples."""
    if translator.grid is not None:
        g = translator.grid
        return Grid(g.width, g.height, frames_that_fit(count, fps, g.fps, g.frames), g.fps)
    multiple = translator.vae.config.spatial_factor * translator.model.config.patch_size[1]
    return requested_grid(width, height, count, fps, max_frames, multiple)


def requested_grid(width: int, height: int, count: int, fps: float, max_frames: int, multiple: int,
                   size: tuple[int, int] | None = None, target_fps: float | None = None) -> Grid:
    """The grid for a `count`-frame `width` x `height` video at `fps`: `size` (width, height; multiples of
    `multiple`, the VAE's compression times the patch) and `target_fps` where given, else the video's own
    size rounded down to `multiple` and its own rate."""
    if size is None:
        if width < multiple or height < multiple:
            raise ValueError(f"the video is {width}x{height}, smaller than one {multiple}x{multiple} latent patch")
        size = (width - width % multiple, height - height % multiple)
    elif size[0] % multiple or size[1] % multiple:
        raise ValueError(f"--size must be multiples of {multiple} (the VAE's compression times the patch), got "
                         f"{size[0]}x{size[1]}")
    target_fps = target_fps or fps
    frames = frames_that_fit(count, fps, target_fps, max_frames)
    if frames < 1:
        raise ValueError(f"the video ({count} frames at {fps:g} fps) gives no frame at {target_fps:g} fps")
    return Grid(size[0], size[1], frames, target_fps)


def translate_human_video(video: str | Path, prepare_kwargs: dict, translator: Translator, sample_config) -> dict:
    """Human video -> H2Rep (`h2rep.prepare.prepare_human` with `prepare_kwargs`) -> robot video, with a
    progress bar of the stages on an interactive terminal.

    Returns {"input", "h2rep", "output"}: uint8 [T, H, W, 3] videos on the sampling grid, and "grid"."""
    from mimicjax.train.run_log import progress
    from mimicjax.translate.h2rep.inputs import read_frames
    from mimicjax.translate.h2rep.prepare import prepare_human
    from mimicjax.translate.pipeline import translate_video
    from mimicjax.video import fit_video

    bar = progress(total=2, desc="translate run")
    bar.set_postfix_str("H2Rep")
    prepared = prepare_human(video, **prepare_kwargs)
    frames, _ = read_frames(video, max_frames=prepare_kwargs.get("max_frames"))
    t, h, w, _ = prepared.frames.shape
    grid = video_grid(translator, w, h, t, prepared.fps, prepare_kwargs.get("max_frames") or t)
    fit = lambda v: fit_video(v, prepared.fps, width=grid.width, height=grid.height, num_frames=grid.frames,
                              target_fps=grid.fps)
    inputs, h2rep = fit(frames), fit(prepared.frames)
    bar.update(1)
    bar.set_postfix_str(f"sample {grid.width}x{grid.height}x{grid.frames}")
    negative = translator.negative if sample_config.guidance_scale != 1.0 else None
    output = translate_video(translator.model, translator.vae, h2rep, translator.text, negative, sample_config)
    bar.update(1)
    bar.close()
    return {"input": inputs, "h2rep": h2rep, "output": output, "grid": grid}
