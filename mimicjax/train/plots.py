"""Learning curves of training runs as PNG figures, from the runs' `scalars.jsonl` and eval JSONs.

    mimicjax plot runs/teacher runs/student --out curves.png            # against env steps and wall time

One figure per call: a row of panels against env steps and, below it, the same panels against wall-clock
hours. Panels: mean reward per step and its tracking terms, episode length, termination rate of the
training episodes, keypoint error, and (when `mimicjax eval` was run on several checkpoints of a run) the
evaluated success rate. Curves are smoothed with a moving average over `smooth` logged iterations;
wall time is the time spent in iterations (gaps between a stop and `--resume` are left out).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mimicjax.io_utils import atomic_path
from mimicjax.train.run_log import SCALARS_FILE, read_jsonl

# (panel title, metric names in scalars.jsonl; the first present is used, "*" a prefix of several)
PANELS = (
    ("reward per step", ("reward/mean",)),
    ("tracking reward terms", ("env/reward/*",)),
    ("episode length (steps)", ("episode/length",)),
    ("training episodes terminated", ("episode/termination_rate",)),
    ("keypoint error (m)", ("env/error/keypoint",)),
)


def run_curves(run_dir: str | Path) -> dict:
    """{"env_steps": [N], "hours": [N], metric: [N], "eval": [(env_steps, hours, success)]} of one run."""
    run_dir = Path(run_dir)
    path = run_dir / SCALARS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a `mimicjax train` or `mimicjax distill` run directory?")
    rows = [row for row in read_jsonl(path) if "perf/env_steps" in row]
    if not rows:
        raise ValueError(f"{path} has no training iterations logged yet")
    rows.sort(key=lambda row: row["step"])
    seconds = np.cumsum([float(row.get("perf/iteration_s", 0.0)) for row in rows])
    curves = {"env_steps": np.array([float(row["perf/env_steps"]) for row in rows]), "hours": seconds / 3600.0}
    names = set().union(*rows)
    for name in names:
        if name in ("step", "wall_time"):
            continue
        curves[name] = np.array([_number(row.get(name)) for row in rows])
    curves["eval"] = _eval_points(run_dir, rows, curves)
    return curves


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _eval_points(run_dir: Path, rows: list[dict], curves: dict) -> list[tuple[float, float, float]]:
    """(env steps, hours, success rate) of every evaluated checkpoint without goal noise."""
    steps = np.array([row["step"] for row in rows])
    points = []
    for path in sorted((run_dir / "eval").glob("checkpoint_*.json")):
        stem = path.stem[len("checkpoint_"):]
        if not stem.isdigit():  # e.g. checkpoint_100_noise_0.05
            continue
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        success = result.get("success_rate")
        if success is None:
            continue
        index = min(int(np.searchsorted(steps, int(stem))), len(steps) - 1)
        points.append((curves["env_steps"][index], curves["hours"][index], float(success)))
    return sorted(points)


def smoothed(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over `window` entries (NaNs ignored), same length as `values`."""
    values = np.asarray(values, np.float64)
    if window <= 1 or values.size == 0:
        return values
    finite = np.isfinite(values)
    kernel = np.ones(window)
    total = np.convolve(np.where(finite, values, 0.0), kernel, mode="full")[: values.size]
    count = np.convolve(finite.astype(np.float64), kernel, mode="full")[: values.size]
    return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


def plot_runs(run_dirs, out: str | Path, smooth: int = 20, labels=None) -> Path:
    """Write the learning curves of `run_dirs` to the PNG `out` (atomically); returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise ValueError("plot needs at least one run directory")
    labels = list(labels) if labels else [d.name for d in run_dirs]
    runs = [run_curves(d) for d in run_dirs]
    panels = list(PANELS) + ([("eval success rate", ("eval",))] if any(r["eval"] for r in runs) else [])
    axes_x = (("env_steps", "env steps"), ("hours", "wall-clock hours"))
    fig, axes = plt.subplots(len(axes_x), len(panels), figsize=(3.6 * len(panels), 3.0 * len(axes_x)), squeeze=False)
    for row, (x_key, x_label) in enumerate(axes_x):
        for col, (title, names) in enumerate(panels):
            ax = axes[row, col]
            for label, curves in zip(labels, runs):
                _draw(ax, curves, x_key, names, label, smooth, several_runs=len(runs) > 1)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(x_label, fontsize=9)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out


def tracking_reward_curves(curves: dict) -> list[str]:
    """The logged weighted reward terms that reward tracking (positive on average; costs are negative),
    whatever terms the run's reward registry had."""
    names = [n for n in curves if n.startswith("env/reward/") and n != "env/reward/total"]
    return sorted(n for n in names if len(curves[n]) and float(np.nanmean(curves[n])) > 0)


def _draw(ax, curves: dict, x_key: str, names, label: str, smooth: int, several_runs: bool) -> None:
    x = curves[x_key]
    if names == ("eval",):
        if curves["eval"]:
            points = np.array(curves["eval"])
            ax.plot(points[:, 0 if x_key == "env_steps" else 1], points[:, 2], "o-", label=label, markersize=3)
            ax.set_ylim(-0.02, 1.02)
        return
    if names == ("env/reward/*",):
        # Several runs: only the keypoint term each, or the legend outgrows the panel.
        names = ["env/reward/keypoint"] if several_runs and "env/reward/keypoint" in curves else tracking_reward_curves(curves)
        for name in names:
            term = name.removeprefix("env/reward/")
            ax.plot(x, smoothed(curves[name], smooth), label=f"{label}: {term}" if several_runs else term, linewidth=1)
        return
    for name in names:
        if name in curves:
            ax.plot(x, smoothed(curves[name], smooth), label=label if several_runs else None, linewidth=1.2)
            return


__all__ = ["PANELS", "plot_runs", "run_curves", "smoothed", "tracking_reward_curves"]
