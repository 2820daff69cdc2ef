"""Run logging: scalars readable from the TensorBoard event file and the JSONL, videos, progress bars."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from mimicjax.train import run_log


def test_scalars_round_trip_through_event_file_and_jsonl(tmp_path):
    with run_log.RunLogger(tmp_path, enabled=True) as log:
        for step in range(3):
            metrics = {
                "ppo/value_loss": jnp.float32(0.5 * step),
                "env/reward/feet": np.float64(step),
                "episode/return": float("nan"),
            }
            returned = log.scalars(metrics, step=step * 10)
        log.histogram("actions/histogram", np.random.default_rng(0).normal(size=100), step=0)
        log.write_config({"ppo": {"epochs": 5}, "hidden": (256, 128)})
    assert returned == pytest.approx({"ppo/value_loss": 1.0, "env/reward/feet": 2.0, "episode/return": float("nan")},
                                     nan_ok=True)
    events = run_log.read_event_scalars(tmp_path)
    assert events["ppo/value_loss"] == [(0, 0.0), (10, 0.5), (20, 1.0)]
    assert events["env/reward/feet"] == [(0, 0.0), (10, 1.0), (20, 2.0)]
    assert "episode/return" not in events  # non-finite values are kept out of TensorBoard ...
    records = run_log.read_jsonl(tmp_path / run_log.SCALARS_FILE)
    assert [r["step"] for r in records] == [0, 10, 20]
    assert records[2]["ppo/value_loss"] == 1.0 and np.isnan(records[2]["episode/return"])  # ... not the JSONL
    assert '"hidden": [\n    256' in (tmp_path / run_log.CONFIG_FILE).read_text()


def test_a_cut_off_last_jsonl_line_is_skipped(tmp_path):
    path = tmp_path / "scalars.jsonl"
    path.write_text('{"step": 0, "a": 1.0}\n{"step": 1, "a"')
    assert run_log.read_jsonl(path) == [{"step": 0, "a": 1.0}]


def test_bad_scalars_are_refused(tmp_path):
    with run_log.RunLogger(tmp_path, enabled=True) as log:
        with pytest.raises(ValueError, match="histogram"):
            log.scalars({"actions": np.zeros(3)}, step=0)
        with pytest.raises(ValueError, match="reserved"):
            log.scalars({"step": 1.0}, step=0)


def test_video_goes_to_tensorboard_as_gif_and_to_disk_as_mp4(tmp_path):
    frames = np.random.default_rng(0).random((6, 15, 20, 3))  # floats in [0, 1], odd height
    with run_log.RunLogger(tmp_path, enabled=True) as log:
        path = log.video("eval/rollout", frames, step=3, fps=10)
    (step, gif), = run_log.read_event_images(tmp_path)["eval/rollout"]
    assert step == 3 and gif[:6] == b"GIF89a"
    assert path == tmp_path / "videos" / "eval_rollout_00000003.mp4"
    import imageio.v3 as iio

    assert iio.imread(path, index=None).shape[:3] == (6, 16, 20)
    with pytest.raises(ValueError, match=r"\[T, H, W"):
        run_log.video_frames(np.zeros((4, 4)))


def test_disabled_logger_writes_nothing(tmp_path):
    with run_log.RunLogger(tmp_path / "run", enabled=False) as log:
        log.scalars({"a": 1.0}, step=0)
        log.video("v", np.zeros((2, 4, 4, 3), np.uint8), step=0)
    assert not (tmp_path / "run").exists()


def test_progress_is_silent_off_a_terminal(capsys):
    assert list(run_log.progress(range(3), desc="x")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
    bar = run_log.progress(total=3, force=True)
    bar.update(3)
    bar.close()
    assert "3/3" in capsys.readouterr().err


def test_resuming_drops_what_an_interrupted_session_logged_after_its_checkpoint(tmp_path):
    with run_log.RunLogger(tmp_path, enabled=True) as logger:
        for step in (1, 2, 3):
            logger.scalars({"loss": float(step)}, step=step)
    with run_log.RunLogger(tmp_path, enabled=True, resume_step=2) as logger:
        logger.scalars({"loss": 30.0}, step=3)
    rows = run_log.read_jsonl(tmp_path / "scalars.jsonl")
    assert [(r["step"], r["loss"]) for r in rows] == [(1, 1.0), (2, 2.0), (3, 30.0)]
