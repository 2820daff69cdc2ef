"""Run logging: TensorBoard scalars, histograms and videos, a JSONL copy of the scalars, progress bars.

    with RunLogger(run_dir) as log:
        log.write_config(config)
        for it in progress(range(iterations), desc="train"):
            ...
            log.scalars(metrics, step=it)          # {"ppo/value_loss": 0.3, "env/reward/feet": ...}
        log.video("eval/rollout", frames, step=it, fps=30)

Scalar names are "/"-separated tags, so TensorBoard groups them by prefix. `scalars.jsonl` has one JSON
object per call, {"step": ..., "wall_time": ..., "<tag>": value, ...}, readable without TensorBoard
(`read_jsonl`); it also keeps non-finite values ("nan"), which TensorBoard is not sent.
`read_event_scalars` reads the TensorBoard event files back without TensorBoard.
In a multi-process run only process 0 writes.
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from mimicjax.io_utils import atomic_path, atomic_write_text

SCALARS_FILE = "scalars.jsonl"
CONFIG_FILE = "config.json"
_RESERVED = ("step", "wall_time")


class RunLogger:
    """Writes one run's logs under `logdir`. `enabled=None` means: only on JAX process 0.

    `resume_step`: the run continues from a checkpoint at this step, so anything logged after it by the
    interrupted session is dropped (TensorBoard purges it; the JSONL is rewritten without it).
    """

    def __init__(
        self, logdir: str | Path, enabled: bool | None = None, flush_secs: int = 30, resume_step: int | None = None
    ):
        self.logdir = Path(logdir)
        if enabled is None:
            import jax

            enabled = jax.process_index() == 0
        self.enabled = enabled
        self._writer = None
        if enabled:
            from tensorboardX import SummaryWriter

            self.logdir.mkdir(parents=True, exist_ok=True)
            purge_step = None if resume_step is None else int(resume_step) + 1
            self._writer = SummaryWriter(logdir=str(self.logdir), flush_secs=flush_secs, purge_step=purge_step)
            if resume_step is not None:
                _drop_rows_after(self.logdir / SCALARS_FILE, int(resume_step))

    # -- scalars ---------------------------------------------------------------------------------

    def scalars(self, metrics: Mapping[str, Any], step: int) -> dict[str, float]:
        """Log every scalar in `metrics` at `step`; returns them as Python floats.

        Values may be Python numbers or 0-d NumPy/JAX arrays (fetched from the device in one transfer).
        """
        values = _to_floats(metrics)
        if not self.enabled:
            return values
        for tag, value in values.items():
            if math.isfinite(value):  # a NaN stays in the JSONL; TensorBoard shows a gap
                self._writer.add_scalar(tag, value, global_step=int(step))
        line = {"step": int(step), "wall_time": time.time(), **{k: _json_float(v) for k, v in values.items()}}
        # One write of one line: concurrent readers see whole lines; a crash can cut only the last one.
        with open(self.logdir / SCALARS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
        return values

    def histogram(self, tag: str, values, step: int, bins: str | int = "tensorflow") -> None:
        if self.enabled:
            self._writer.add_histogram(tag, np.asarray(values, dtype=np.float64).ravel(), int(step), bins=bins)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        if self.enabled:
            self._writer.add_text(tag, text, int(step))

    # -- videos ----------------------------------------------------------------------------------

    def video(self, tag: str, frames, step: int, fps: float = 30.0, save_mp4: bool = True) -> Path | None:
        """Log `frames` ([T, H, W], [T, H, W, 1|3|4]; uint8, or floats in [0, 1]) as a video.

        TensorBoard gets an animated GIF (its image tab plays them); with `save_mp4` an H.264 file is
        also written to `<logdir>/videos/<tag>_<step>.mp4`, whose path is returned.
        """
        frames = video_frames(frames)
        if not self.enabled:
            return None
        from tensorboardX.proto.summary_pb2 import Summary

        _, height, width, channels = frames.shape
        image = Summary.Image(
            height=height, width=width, colorspace=channels, encoded_image_string=encode_gif(frames, fps)
        )
        self._writer._get_file_writer().add_summary(
            Summary(value=[Summary.Value(tag=tag, image=image)]), int(step)
        )
        if not save_mp4:
            return None
        path = self.logdir / "videos" / f"{tag.replace('/', '_')}_{int(step):08d}.mp4"
        write_mp4(path, frames, fps)
        return path

    # -- files -----------------------------------------------------------------------------------

    def write_config(self, config: Any, name: str = CONFIG_FILE) -> Path | None:
        """The resolved configuration as JSON beside the logs (written atomically)."""
        from mimicjax.train.checkpoint import dumps

        if not self.enabled:
            return None
        path = self.logdir / name
        atomic_write_text(path, dumps(config) + "\n")
        return path

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "RunLogger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _drop_rows_after(path: Path, step: int) -> None:
    """Rewrite a scalars JSONL file without the rows logged after `step` (atomically)."""
    if not path.is_file():
        return
    from mimicjax.io_utils import atomic_write_text

    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(line + "\n" for line in kept))


def _to_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    import jax

    host = jax.device_get(dict(metrics))
    values = {}
    for tag, value in host.items():
        if tag in _RESERVED:
            raise ValueError(f"scalar name {tag!r} is reserved in {SCALARS_FILE}; rename the metric")
        array = np.asarray(value)
        if array.size != 1:
            raise ValueError(f"scalar {tag!r} has shape {array.shape}; log arrays with histogram()")
        values[tag] = float(array.reshape(()))
    return values


def _json_float(value: float):
    return value if math.isfinite(value) else repr(value)  # "nan", "inf": JSON has no such numbers


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a scalars.jsonl (non-finite values back as floats); a cut-off last line is skipped."""
    records = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) - 1:  # the line an interrupted write left unfinished
                break
            raise ValueError(f"{path}: line {number + 1} is not JSON: {line[:80]!r}") from None
        records.append({k: float(v) if v in ("nan", "inf", "-inf") else v for k, v in record.items()})
    return records


# ---- Video encoding -------------------------------------------------------------------------------


def video_frames(frames) -> np.ndarray:
    """`frames` as uint8 [T, H, W, C] with C in {1, 3, 4}, with a clear error otherwise."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4) or frames.shape[0] == 0:
        raise ValueError(f"video frames must be [T, H, W] or [T, H, W, 1|3|4] with T > 0, got {frames.shape}")
    if frames.dtype != np.uint8:
        if not np.issubdtype(frames.dtype, np.floating):
            raise ValueError(f"video frames must be uint8 or floats in [0, 1], got {frames.dtype}")
        frames = (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return frames


def _rgb(frames: np.ndarray) -> np.ndarray:
    if frames.shape[-1] == 1:
        return np.repeat(frames, 3, axis=-1)
    return frames[..., :3]


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    import imageio.v3 as iio

    buffer = io.BytesIO()
    iio.imwrite(buffer, _rgb(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    return buffer.getvalue()


def write_mp4(path: str | Path, frames: np.ndarray, fps: float) -> None:
    """H.264 mp4, written atomically. Odd sizes are padded to even (the codec needs it)."""
    import imageio.v2 as imageio

    frames = _rgb(video_frames(frames))
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # JAX warns about any fork; the encoder's child process execs ffmpeg at once, which is safe.
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1) as writer:
            for frame in frames:
                writer.append_data(frame)


# ---- Progress bars --------------------------------------------------------------------------------


def progress(
    iterable: Iterable | None = None,
    total: int | None = None,
    desc: str | None = None,
    force: bool = False,
    **tqdm_kwargs,
):
    """A tqdm progress bar, shown only on an interactive terminal (or when `force`)."""
    from tqdm.auto import tqdm

    disable = not (force or sys.stderr.isatty())
    return tqdm(iterable, total=total, desc=desc, disable=disable, dynamic_ncols=True, **tqdm_kwargs)


# ---- Reading event files without TensorBoard -------------------------------------------------------


def read_event_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files under `logdir`: {tag: [(step, value), ...]}."""
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        for record in _read_tfrecords(path):
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.WhichOneof("value") == "simple_value":
                    scalars.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return scalars


def read_event_images(logdir: str | Path) -> dict[str, list[tuple[int, bytes]]]:
    """Encoded images (PNG, GIF) in the event files under `logdir`: {tag: [(step, bytes), ...]}."""
    from tensorboardX.proto import event_pb2

    images: dict[str, list[tuple[int, bytes]]] = {}
    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        for record in _read_tfrecords(path):
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.WhichOneof("value") == "image":
                    images.setdefault(value.tag, []).append((int(event.step), value.image.encoded_image_string))
    return images


def _read_tfrecords(path: Path):
    """The records of a TFRecord file: [u64 length][u32 crc][data][u32 crc]; stops at a cut-off record."""
    from tensorboardX.crc32c import crc32c

    def masked(data: bytes) -> int:
        crc = crc32c(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if len(header) < 12:
                return
            (length,), (length_crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            if masked(header[:8]) != length_crc:
                raise ValueError(f"{path}: corrupt record header at byte {f.tell() - 12}")
            data, footer = f.read(length), f.read(4)
            if len(data) < length or len(footer) < 4:
                return
            if masked(data) != struct.unpack("<I", footer)[0]:
                raise ValueError(f"{path}: corrupt record at byte {f.tell() - length - 4}")
            yield data


__all__ = [
    "RunLogger", "progress", "read_event_scalars", "read_event_images", "read_jsonl",
    "encode_gif", "write_mp4", "video_frames", "SCALARS_FILE", "CONFIG_FILE",
]
