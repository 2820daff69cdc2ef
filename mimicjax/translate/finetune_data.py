"""Training data of `translate finetune`: (H2Rep condition, robot video) latent pairs, cached on disk.

A dataset is a folder of clip folders (`translate make-data` + `translate prepare robot --dataset`, or
real robot videos laid out the same way), each holding `h2rep.mp4` (the condition: arm removed, gripper
cue drawn) and `video.mp4` (the target: the original robot video). Every pair is resized and resampled
to the training grid (`fit_video`), encoded by the VAE once, and stored as

    DATASET/latent_cache/<key>/spec.json        what the latents are: VAE, size, frames, fps
    DATASET/latent_cache/<key>/<clip>.npz       condition, target: float32 latents [C, F, h, w]

where `key` hashes the spec, so a different VAE or grid gets its own folder. Each clip file is written
atomically; a caching pass that is killed leaves whole files only and the next pass encodes just the
clips still missing. Training streams batches from these files (`LatentBatches`): the clips of step s
are a pure function of s, so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from mimicjax.io_utils import atomic_path, atomic_write_text

CONDITION_VIDEO = "h2rep.mp4"
TARGET_VIDEO = "video.mp4"
CACHE_FOLDER = "latent_cache"
SPEC_FILE = "spec.json"
CACHE_VERSION = 1

# (uint8 frames [T, H, W, 3]) -> latents [C, F, h, w]
Encoder = Callable[[np.ndarray], np.ndarray]


def find_pairs(dataset: str | Path) -> list[Path]:
    """The clip folders of `dataset` that hold both h2rep.mp4 and video.mp4, sorted by name."""
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise FileNotFoundError(f"no dataset folder at {dataset}")
    clips = sorted(p for p in dataset.iterdir() if p.is_dir() and (p / TARGET_VIDEO).is_file())
    pairs = [clip for clip in clips if (clip / CONDITION_VIDEO).is_file()]
    if not pairs:
        hint = (f"; {len(clips)} clip folders have {TARGET_VIDEO} but no {CONDITION_VIDEO}: run `mimicjax translate "
                f"prepare robot --dataset {dataset}` first" if clips else
                f"; make one with `mimicjax translate make-data --out {dataset}`")
        raise ValueError(f"{dataset}: no clip folder holds both {CONDITION_VIDEO} and {TARGET_VIDEO}{hint}")
    return pairs


def split_clips(names: Sequence[str], held_out_fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training names, held-out names): the ceil(fraction * n) names (at least one, and at least one left
    to train on) that rank first by a hash of (seed, name). Depends on the set of names only, not their order."""
    names = sorted(set(names))
    if len(names) < 2:
        raise ValueError(f"a held-out split needs at least 2 clips, the dataset has {len(names)}")
    ranked = sorted(names, key=lambda name: hashlib.sha256(f"{seed}:{name}".encode()).hexdigest())
    count = min(len(names) - 1, max(1, int(np.ceil(held_out_fraction * len(names)))))
    held_out = sorted(ranked[:count])
    return [n for n in names if n not in held_out], held_out


@dataclasses.dataclass(frozen=True)
class LatentSpec:
    """What a cache folder holds: latents of which VAE, from videos fitted to which grid."""

    vae: str  # the VAE's identity (its source and config)
    width: int
    height: int
    frames: int
    fps: float

    def to_dict(self) -> dict:
        return {"version": CACHE_VERSION, **dataclasses.asdict(self)}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def cache_folder(dataset: str | Path, spec: LatentSpec) -> Path:
    return Path(dataset) / CACHE_FOLDER / spec.key


def clip_videos(clip: Path, spec) -> dict[str, np.ndarray]:
    """{"condition", "target"}: the clip's two videos fitted to the grid of `spec` (a `LatentSpec` or the
    config's `DataConfig`: width, height, frames, fps) as uint8 [T, H, W, 3]."""
    from mimicjax.video import fit_video, read_video

    out = {}
    for name, file in (("condition", CONDITION_VIDEO), ("target", TARGET_VIDEO)):
        frames, fps = read_video(clip / file)
        try:
            out[name] = fit_video(frames, fps, width=spec.width, height=spec.height, num_frames=spec.frames,
                                  target_fps=spec.fps)
        except ValueError as error:
            raise ValueError(f"{clip / file}: {error}") from None
    return out


def build_latent_cache(clips: Sequence[Path], folder: Path, spec: LatentSpec, encode: Encoder,
                       show_progress: bool = True) -> dict[str, Path]:
    """Encode every clip not yet in `folder`; returns {clip name: latent file} for the usable clips.

    Clips too short for the spec's frames at its fps are left out with one warning line.
    """
    from mimicjax.train.run_log import progress

    folder.mkdir(parents=True, exist_ok=True)
    spec_file = folder / SPEC_FILE
    if spec_file.is_file() and json.loads(spec_file.read_text()) != spec.to_dict():
        raise ValueError(f"{spec_file} describes other latents than {spec.to_dict()}; remove {folder} to rebuild it")
    if not spec_file.is_file():
        atomic_write_text(spec_file, json.dumps(spec.to_dict(), indent=1, sort_keys=True) + "\n")
    for stray in folder.glob(".*.npz"):  # the temporary file of a pass killed mid-write
        stray.unlink(missing_ok=True)
    files, too_short = {}, []
    missing = [clip for clip in clips if not (folder / f"{clip.name}.npz").is_file()]
    bar = progress(missing, total=len(missing), desc="encode clips") if show_progress else missing
    for clip in bar:
        try:
            videos = clip_videos(clip, spec)
        except ValueError as error:
            too_short.append(f"{clip.name} ({error})")
            continue
        latents = {name: np.asarray(encode(frames), np.float32) for name, frames in videos.items()}
        with atomic_path(folder / f"{clip.name}.npz") as tmp:
            np.savez(tmp, **latents)
    if too_short:
        print(f"warning: left out {len(too_short)} clips that cannot be fitted to {spec.frames} frames at "
              f"{spec.fps:g} fps: {'; '.join(too_short[:3])}", file=sys.stderr, flush=True)
    for clip in clips:
        if (folder / f"{clip.name}.npz").is_file():
            files[clip.name] = folder / f"{clip.name}.npz"
    return files


def split_videos(dataset: str | Path, data) -> tuple[np.ndarray, np.ndarray]:
    """(training videos, held-out videos): the H2Rep and robot videos [N, T, H, W, 3] of the clips of
    `dataset` that fit the grid of `data` (a `DataConfig`), split as `translate finetune` splits them."""
    videos = {}
    for clip in find_pairs(dataset):
        try:
            videos[clip.name] = clip_videos(clip, data)
        except ValueError:
            continue  # too short for the grid: fine-tuning leaves it out too
    train, held_out = split_clips(list(videos), data.held_out_fraction, data.split_seed)
    stack = lambda names: np.stack([videos[n][k] for n in names for k in ("condition", "target")])
    return stack(train), stack(held_out)


def vae_encoder(vae) -> Encoder:
    """Frames -> the VAE's latents (normalised with its statistics when it has them), as the sampler sees them."""
    import jax.numpy as jnp

    from mimicjax.translate.pipeline import video_to_model_input

    def encode(frames: np.ndarray) -> np.ndarray:
        video = video_to_model_input(frames, vae.config.spatial_factor, vae.config.temporal_factor)
        latents = vae.encode(jnp.asarray(video))
        if vae.config.latents_mean is not None:
            latents = vae.normalize_latents(latents)
        return np.asarray(latents[0])

    return encode


def load_pair(file: Path) -> dict[str, np.ndarray]:
    with np.load(file) as data:
        return {"condition": data["condition"], "target": data["target"]}


def batch_indices(step: int, count: int, batch_size: int, seed: int) -> np.ndarray:
    """Which of `count` clips make up the batch of `step`: epochs are shuffled permutations (seeded by
    (seed, epoch)) read in order, so the stream depends on the step alone."""
    positions = step * batch_size + np.arange(batch_size)
    epochs, within = positions // count, positions % count
    perms = {int(e): np.random.default_rng((seed, int(e))).permutation(count) for e in np.unique(epochs)}
    return np.array([perms[int(e)][i] for e, i in zip(epochs, within)])


@dataclasses.dataclass(frozen=True)
class LatentBatches:
    """Batches of cached latent pairs, read from disk as they are needed."""

    files: tuple[Path, ...]
    batch_size: int
    seed: int = 0

    def batch(self, step: int) -> dict[str, np.ndarray]:
        """{"condition", "target"}: [batch, C, F, h, w] float32 for optimiser step `step`."""
        pairs = [load_pair(self.files[i]) for i in batch_indices(step, len(self.files), self.batch_size, self.seed)]
        return {name: np.stack([pair[name] for pair in pairs]) for name in ("condition", "target")}


def random_prompt_embeddings(prompt: str, tokens: int, dim: int) -> np.ndarray:
    """A stand-in for umT5 embeddings in random-weight runs: [tokens, dim] with one random row per word
    (seeded by the word) and an end-of-text row, zeros after them as umT5 pads. The empty prompt is the
    end-of-text row alone, as in umT5."""
    words = prompt.split()[: tokens - 1] + ["</s>"]
    out = np.zeros((tokens, dim), np.float32)
    for row, word in enumerate(words):
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        out[row] = np.random.default_rng(seed).standard_normal(dim).astype(np.float32) * 0.1
    return out


def prompt_embeddings(prompt: str, text_dim: int, *, text_embeddings=None, negative_embeddings=None, text_encoder=None,
                      cache_dir: Path | None = None, random_tokens: int = 16) -> tuple[np.ndarray, np.ndarray, str]:
    """(prompt embedding [S, D], empty-prompt embedding [S, D], where they came from).

    From .npy files (both needed), from a umT5 encoder folder (cached in `cache_dir`, see `PromptCache`), or,
    with neither, `random_prompt_embeddings` (random-weight runs only).
    """
    from mimicjax.translate.pipeline import load_text_embeddings

    if text_embeddings is not None or negative_embeddings is not None:
        if text_embeddings is None or negative_embeddings is None:
            raise ValueError("give both --text-embeddings (the prompt's) and --negative-embeddings (the empty prompt's)")
        prompt_emb, empty = load_text_embeddings(text_embeddings), load_text_embeddings(negative_embeddings)
        source = f"files {text_embeddings}, {negative_embeddings}"
    elif text_encoder is not None:
        from mimicjax.translate.wan.text_encoder import PromptCache, load_umt5_encoder

        encoder = load_umt5_encoder(text_encoder)
        cache = PromptCache(cache_dir)
        prompt_emb, empty = (np.asarray(encoder.embed_prompt(p, cache=cache), np.float32) for p in (prompt, ""))
        source = f"umT5 {text_encoder}"
    else:
        prompt_emb, empty = (random_prompt_embeddings(p, random_tokens, text_dim) for p in (prompt, ""))
        source = "random stand-in"
    prompt_emb, empty = (e[0] if e.ndim == 3 else e for e in (prompt_emb, empty))
    if prompt_emb.shape != empty.shape or prompt_emb.ndim != 2 or prompt_emb.shape[-1] != text_dim:
        raise ValueError(f"prompt embeddings {prompt_emb.shape} and empty-prompt embeddings {empty.shape} must both be "
                         f"[tokens, {text_dim}] (the transformer's text width)")
    return prompt_emb, empty, source
