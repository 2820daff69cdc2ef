"""`mimicjax translate convert` and `sample` end to end on tiny random models, and the translate benchmark."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _run(argv):
    from mimicjax.translate import commands

    parser = argparse.ArgumentParser(prog="mimicjax")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_module_imports_only_argparse():
    import subprocess
    import sys

    code = "import sys, mimicjax.translate.commands; print(sorted(m for m in ('jax', 'torch', 'numpy', 'flax') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def workspace(reference, tiny_config, tmp_path_factory):
    """A converted checkpoint, a tiny VAE folder and a condition clip, shared by the sample tests."""
    import imageio.v2 as imageio
    from diffusers import AutoencoderKLWan

    root = tmp_path_factory.mktemp("translate")
    reference.save_pretrained(root / "transformer")
    assert _run(["translate", "convert", "--diffusers", str(root / "transformer"), "--out", str(root / "ckpt")]) == 0
    torch.manual_seed(0)
    AutoencoderKLWan(
        base_dim=8, z_dim=tiny_config.in_channels, dim_mult=[1, 2, 4, 4], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    ).save_pretrained(root / "vae")
    frames = (np.random.default_rng(0).uniform(0, 255, (6, 34, 36, 3))).astype(np.uint8)
    imageio.mimsave(root / "cond.gif", list(frames), duration=0.1)
    return root


def _sample_argv(root, out, *extra):
    return [
        "translate", "sample", "--ckpt", str(root / "ckpt"), "--condition", str(root / "cond.gif"),
        "--out", str(out), "--vae", str(root / "vae"), "--steps", "2", "--guidance", "3.0", *extra,
    ]


def test_convert_then_sample(workspace, tiny_config, tmp_path):
    from mimicjax.video import read_video
    from mimicjax.translate.wan.convert import load_checkpoint

    config, params, meta = load_checkpoint(workspace / "ckpt")
    assert config.num_layers == tiny_config.num_layers and meta["source"].endswith("transformer")
    rng = np.random.default_rng(1)
    for name in ("text", "empty"):
        np.save(tmp_path / f"{name}.npy", rng.standard_normal((3, tiny_config.text_dim)).astype(np.float32))
    out = tmp_path / "robot.mp4"
    text = ["--text-embeddings", str(tmp_path / "text.npy")]
    with pytest.raises(ValueError, match="empty-prompt embedding"):  # guidance needs the real negative, not zeros
        _run(_sample_argv(workspace, out, *text))
    assert _run(_sample_argv(workspace, out, *text, "--negative-embeddings", str(tmp_path / "empty.npy"))) == 0
    video, fps = read_video(out)
    assert video.shape == (5, 32, 32, 3)  # 1 + 4k frames, centre-cropped to the VAE x patch multiple
    # Resized to a grid and resampled: 6 frames at 10 fps are 3 at 5 fps, of which 1 + 4k = 1 is sampled.
    negative = ["--negative-embeddings", str(tmp_path / "empty.npy")]
    assert _run(_sample_argv(workspace, out, *text, *negative, "--size", "64x32", "--fps", "5")) == 0
    video, fps = read_video(out)
    assert video.shape == (1, 32, 64, 3) and fps == pytest.approx(5.0)
    with pytest.raises(ValueError, match="multiples of 16"):
        _run(_sample_argv(workspace, out, *text, *negative, "--size", "40x32"))


def test_sample_with_text_encoder(workspace, tiny_config, tmp_path):
    """`--text-encoder DIR`: a umT5 folder saved by transformers with a tokenizer beside it encodes the
    prompt (and the empty negative prompt) inside the command."""
    from transformers import UMT5Config, UMT5EncoderModel

    from mimicjax.translate import commands
    from mimicjax.translate.pipeline import DEFAULT_PROMPT
    from mimicjax.video import read_video
    from tests.translate.conftest import tiny_tokenizer

    torch.manual_seed(0)
    encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=16, d_model=tiny_config.text_dim, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
    )).eval()
    encoder.save_pretrained(tmp_path / "pipe" / "text_encoder", safe_serialization=True)
    tokenizer = tiny_tokenizer(tmp_path / "pipe" / "tokenizer")

    out = tmp_path / "robot.mp4"
    assert _run(_sample_argv(workspace, out, "--text-encoder", str(tmp_path / "pipe"))) == 0
    video, fps = read_video(out)
    assert video.shape == (5, 32, 32, 3)

    # The embeddings the command feeds the transformer are umT5's for the default prompt.
    parser = argparse.ArgumentParser(prog="mimicjax")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(_sample_argv(workspace, out, "--text-encoder", str(tmp_path / "pipe")))
    text, negative = commands.prompt_embeddings_from_args(args, tiny_config.text_dim)
    tokens = tokenizer([DEFAULT_PROMPT], padding="max_length", max_length=text.shape[0], return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**tokens).last_hidden_state * tokens["attention_mask"][..., None]
    expected = hidden[0].numpy()
    assert np.abs(text - expected).max() < 0.05 * np.abs(expected).max()  # bfloat16 encoder weights
    assert negative.shape == text.shape and np.abs(negative - text).max() > 1e-3


def test_bench_tiny(tmp_path):
    from mimicjax.translate import bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args([
        "--configs", "tiny", "--repeats", "1", "--frames", "1", "--size", "8",
        "--vae-base-dim", "4", "--vae-frames", "1", "--vae-size", "16",
    ])
    result = bench.run(args)
    json.dumps(result)
    row = result["transformer"]["tiny"]
    assert row["flax_tokens_per_s"] > 0 and row["diffusers_tokens_per_s"] > 0 and row["compile_s"] > 0
    assert row["max_abs_diff"] < 1e-3
    vae = result["vae"]  # Flax and diffusers in the same run
    assert vae["flax_encode_frames_per_s"] > 0 and vae["diffusers_decode_frames_per_s"] > 0
    assert vae["max_abs_diff_encode"] < 1e-3 and vae["max_abs_diff_decode"] < 1e-3
    assert result["peak_rss_mb"] > 0 and len(result["load_average_start"]) == 3
