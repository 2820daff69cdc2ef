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


def test_convert_then_sample(reference, tiny_config, tmp_path):
    import imageio.v2 as imageio
    from diffusers import AutoencoderKLWan

    from mimicjax.translate.wan.convert import load_checkpoint

    reference.save_pretrained(tmp_path / "transformer")
    assert _run(["translate", "convert", "--diffusers", str(tmp_path / "transformer"), "--out", str(tmp_path / "ckpt")]) == 0
    config, params, meta = load_checkpoint(tmp_path / "ckpt")
    assert config.num_layers == tiny_config.num_layers and meta["source"].endswith("transformer")

    torch.manual_seed(0)
    AutoencoderKLWan(
        base_dim=8, z_dim=tiny_config.in_channels, dim_mult=[1, 2, 4, 4], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    ).save_pretrained(tmp_path / "vae")
    frames = (np.random.default_rng(0).uniform(0, 255, (6, 34, 36, 3))).astype(np.uint8)
    imageio.mimsave(tmp_path / "cond.gif", list(frames), duration=0.1)
    np.save(tmp_path / "text.npy", np.random.default_rng(1).standard_normal((3, tiny_config.text_dim)).astype(np.float32))
    out = tmp_path / "robot.mp4"
    assert _run([
        "translate", "sample", "--ckpt", str(tmp_path / "ckpt"), "--condition", str(tmp_path / "cond.gif"),
        "--out", str(out), "--vae", str(tmp_path / "vae"), "--text-embeddings", str(tmp_path / "text.npy"),
        "--steps", "2", "--guidance", "3.0",
    ]) == 0
    from mimicjax.translate.pipeline import read_video

    video, fps = read_video(out)
    assert video.shape == (5, 32, 32, 3)  # 1 + 4k frames, centre-cropped to the VAE x patch multiple


def test_bench_tiny(tmp_path):
    from mimicjax.translate import bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--configs", "tiny", "--repeats", "1", "--frames", "1", "--size", "8", "--no-vae"])
    result = bench.run(args)
    json.dumps(result)
    row = result["transformer"]["tiny"]
    assert row["flax_tokens_per_s"] > 0 and row["diffusers_tokens_per_s"] > 0 and row["compile_s"] > 0
    assert row["max_abs_diff"] < 1e-3
    assert result["peak_rss_mb"] > 0
