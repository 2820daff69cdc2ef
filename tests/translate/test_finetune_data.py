"""Fine-tuning data: videos fitted to the training grid, a deterministic held-out split, a latent cache that
a killed pass resumes (whole files only), batches that depend on the step alone, prompt embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from mimicjax.translate import finetune_data as data_lib
from mimicjax.video import fit_video, write_video


def numbered_frames(count: int, height: int = 30, width: int = 40) -> np.ndarray:
    """Frame i is a flat image of value 10 i: which source frame was kept can be read back."""
    return np.stack([np.full((height, width, 3), 10 * i, np.uint8) for i in range(count)])


def test_fit_video_resamples_time_and_covers_the_size():
    out = fit_video(numbered_frames(9), 10.0, width=16, height=16, num_frames=3, target_fps=5.0)
    assert out.shape == (3, 16, 16, 3) and out.dtype == np.uint8
    assert [int(f[0, 0, 0]) for f in out] == [0, 20, 40]  # every other frame: 10 fps -> 5 fps
    up = fit_video(numbered_frames(3), 10.0, width=4, height=4, num_frames=5, target_fps=20.0)
    assert [int(f[0, 0, 0]) for f in up] == [0, 10, 10, 20, 20]  # nearest frame (ties round up)
    gradient = np.tile(np.arange(40, dtype=np.uint8)[None, :, None], (30, 1, 3))[None]
    wide = fit_video(gradient, 10.0, width=16, height=16, num_frames=1, target_fps=10.0)
    # 40x30 scaled by 16/30 to 21x16, 2 columns cropped each side: source columns about 4 to 33 remain
    assert (int(wide[0, 8, 0, 0]), int(wide[0, 8, -1, 0])) == (4, 33)
    with pytest.raises(ValueError, match="need 17 frames"):
        fit_video(numbered_frames(9), 10.0, width=16, height=16, num_frames=9, target_fps=5.0)


def test_split_is_deterministic_disjoint_and_never_empty():
    names = [f"clip_{i:03d}" for i in range(20)]
    train, held_out = data_lib.split_clips(names, 0.2, seed=0)
    assert len(held_out) == 4 and sorted(train + held_out) == names and not set(train) & set(held_out)
    assert data_lib.split_clips(list(reversed(names)), 0.2, seed=0) == (train, held_out)  # order does not matter
    assert data_lib.split_clips(names, 0.2, seed=1)[1] != held_out  # the seed picks another split
    assert len(data_lib.split_clips(names[:3], 0.01)[1]) == 1  # at least one held out ...
    assert len(data_lib.split_clips(names[:3], 0.99)[0]) == 1  # ... and at least one to train on
    with pytest.raises(ValueError, match="at least 2 clips"):
        data_lib.split_clips(names[:1], 0.5)


def make_clips(root, count: int, frames: int = 9) -> list:
    """Clip folders as `make-data` + `prepare robot --dataset` leave them (random content)."""
    rng = np.random.default_rng(0)
    for i in range(count):
        for name in (data_lib.CONDITION_VIDEO, data_lib.TARGET_VIDEO):
            write_video(root / f"clip_{i}" / name, rng.integers(0, 255, (frames, 24, 32, 3), dtype=np.uint8), fps=10)
    return data_lib.find_pairs(root)


def pooled(frames: np.ndarray) -> np.ndarray:
    """A stand-in encoder: 8x8 average pooling, channels first ([C, T, h, w])."""
    t, h, w, c = frames.shape
    return frames.reshape(t, h // 8, 8, w // 8, 8, c).mean(axis=(2, 4)).transpose(3, 0, 1, 2) / 255.0


SPEC = data_lib.LatentSpec(vae="pooling", width=16, height=16, frames=5, fps=5.0)


def test_latent_cache_is_resumable_and_atomic(tmp_path):
    clips = make_clips(tmp_path / "data", 4)
    folder = data_lib.cache_folder(tmp_path / "data", SPEC)
    calls = []

    def killed_on_third_video(frames):
        calls.append(1)
        if len(calls) == 3:  # the second clip's target: the pass dies mid-clip
            raise KeyboardInterrupt
        return pooled(frames)

    with pytest.raises(KeyboardInterrupt):
        data_lib.build_latent_cache(clips, folder, SPEC, killed_on_third_video, show_progress=False)
    assert sorted(p.name for p in folder.iterdir()) == ["clip_0.npz", data_lib.SPEC_FILE]  # whole files only
    (folder / ".clip_1.npz.x1y2.npz").write_bytes(b"half a file")  # what a SIGKILL mid-write leaves

    calls.clear()
    files = data_lib.build_latent_cache(clips, folder, SPEC, lambda f: calls.append(1) or pooled(f), show_progress=False)
    assert len(calls) == 2 * 3  # only the three missing clips, two videos each
    assert sorted(files) == [f"clip_{i}" for i in range(4)]
    assert sorted(p.name for p in folder.iterdir()) == [f"clip_{i}.npz" for i in range(4)] + [data_lib.SPEC_FILE]
    fresh = data_lib.build_latent_cache(clips, tmp_path / "fresh", SPEC, pooled, show_progress=False)
    for name in files:  # the resumed cache holds what one uninterrupted pass writes
        for key, value in data_lib.load_pair(files[name]).items():
            np.testing.assert_array_equal(value, data_lib.load_pair(fresh[name])[key])
    pair = data_lib.load_pair(files["clip_0"])
    assert pair["condition"].shape == pair["target"].shape == (3, 5, 2, 2)

    other = data_lib.LatentSpec(vae="pooling", width=32, height=16, frames=5, fps=5.0)
    assert data_lib.cache_folder(tmp_path / "data", other) != folder  # another grid, another folder
    with pytest.raises(ValueError, match="other latents"):
        data_lib.build_latent_cache(clips, folder, other, pooled, show_progress=False)


def test_short_clips_are_left_out_and_missing_h2rep_is_explained(tmp_path, capsys):
    clips = make_clips(tmp_path / "data", 2, frames=9)
    long_spec = data_lib.LatentSpec(vae="pooling", width=16, height=16, frames=9, fps=5.0)  # needs 17 frames
    assert data_lib.build_latent_cache(clips, tmp_path / "cache", long_spec, pooled, show_progress=False) == {}
    assert "left out 2 clips" in capsys.readouterr().err
    for clip in clips:
        (clip / data_lib.CONDITION_VIDEO).unlink()
    with pytest.raises(ValueError, match="prepare robot --dataset"):
        data_lib.find_pairs(tmp_path / "data")


def test_batches_depend_on_the_step_alone(tmp_path):
    for epoch_start in (0, 2):
        seen = np.concatenate([data_lib.batch_indices(s, 6, 3, seed=7) for s in (epoch_start, epoch_start + 1)])
        assert sorted(seen) == list(range(6))  # each epoch is a permutation
    np.testing.assert_array_equal(data_lib.batch_indices(5, 6, 4, 7), data_lib.batch_indices(5, 6, 4, 7))
    files = data_lib.build_latent_cache(make_clips(tmp_path / "data", 3), tmp_path / "cache", SPEC, pooled,
                                        show_progress=False)
    batches = data_lib.LatentBatches(tuple(files.values()), batch_size=2, seed=0)
    batch = batches.batch(4)
    assert batch["target"].shape == batch["condition"].shape == (2, 3, 5, 2, 2)
    np.testing.assert_array_equal(batch["target"], batches.batch(4)["target"])


def test_prompt_embeddings(tmp_path):
    prompt, empty, source = data_lib.prompt_embeddings("A robotic arm moves.", 8, random_tokens=6)
    assert source == "random stand-in" and prompt.shape == empty.shape == (6, 8)
    assert (np.abs(prompt).sum(axis=1) > 0).sum() == 5  # four words and the end of text, then padding
    assert (np.abs(empty).sum(axis=1) > 0).sum() == 1 and np.array_equal(empty[0], prompt[4])
    np.save(tmp_path / "p.npy", prompt)
    with pytest.raises(ValueError, match="give both"):
        data_lib.prompt_embeddings("x", 8, text_embeddings=tmp_path / "p.npy")
    with pytest.raises(ValueError, match=r"\[tokens, 16\]"):
        data_lib.prompt_embeddings("x", 16, text_embeddings=tmp_path / "p.npy", negative_embeddings=tmp_path / "p.npy")
