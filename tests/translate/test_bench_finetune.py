"""`mimicjax bench finetune` (what scripts/gpu_translate_check.sh runs at TI2V-5B size) at tiny size."""

from __future__ import annotations

import json

import pytest

from mimicjax import cli
from mimicjax.translate.bench_finetune import latent_shape
from mimicjax.translate.finetune_config import load_finetune_config
from mimicjax.translate.wan.configs import preset
from tests.conftest import PROJECT_ROOT

TINY = PROJECT_ROOT / "experiments" / "h2r_tiny.py"


def test_bench_finetune_times_a_training_and_a_sampling_step(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["bench", "finetune", "--config", str(TINY), "--text-len", "8", "--repeats", "1", "--json", str(out)]
    assert cli.main(args) == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert report["preset"] == "tiny" and report["trainable_parameters"] > 0
    # 64x64x9 video -> 3 x 4 x 4 latents (x16 space, x4 time) -> 3 x 2 x 2 tokens per stream (2x2 patches)
    assert report["shape"]["latents"] == [4, 4, 3, 4, 4] and report["shape"]["tokens_per_stream"] == 12
    for name in ("train_step", "sampling_step"):
        assert report[name]["seconds"] > 0 and report[name]["compile_s"] > 0
    assert report["train_step"]["loss"] > 0


def test_the_5b_config_makes_the_papers_grid():
    config = load_finetune_config(PROJECT_ROOT / "experiments" / "h2r_ti2v_5b.py")
    shape = latent_shape(config, preset("wan2.2-ti2v-5b"), spatial=16, temporal=4)
    assert shape == (2, 48, 13, 30, 52)  # 49 frames at 480x832, micro-batches of 2
    with pytest.raises(ValueError, match="multiples of 7 "):
        latent_shape(config, preset("wan2.2-ti2v-5b"), spatial=7, temporal=4)
