"""Tracking metrics of evaluation episodes, from the per-step arrays an evaluation rollout records.

Host-side NumPy, pure functions. Arrays are time-major: [T, E] for T control steps of E episodes (one
episode per env; the env's auto-reset after an episode's first done step starts an unrelated episode,
so everything after it is masked out).

  * success: the episode reached its end (the clip's end or the episode limit) without a termination;
  * keypoint error (m): the mean distance of the robot's keypoints to their goals at a step
    (`error/keypoint`, in the frame the rewards use; `error/keypoint_world` in the world frame; per
    keypoint group `error/keypoint_<group>`). "mean" averages over every evaluated step (MPJPE-style,
    so long clips weigh more), "max" is the worst step.

Episodes are grouped by how they start (`report`): "from_start" (time 0 of the clip), "random_starts"
(a random time of the clip) and all of them together ("overall" and the per-clip top-level figures).
"""

from __future__ import annotations

import math
import re

import numpy as np

KEYPOINT = "error/keypoint"
KEYPOINT_WORLD = "error/keypoint_world"
TERMINATION_PREFIX = "termination/"


def episode_mask(done: np.ndarray) -> np.ndarray:
    """[T, E] bool: the steps of each env's first episode (up to and including its first done step)."""
    done = np.asarray(done) > 0
    finished_before = np.cumsum(done, axis=0) - done  # dones strictly before each step
    return finished_before == 0


def group_names(metric_names) -> list[str]:
    """Keypoint groups present in the recorded metrics (e.g. ["lower", "upper", "end_effector"])."""
    prefix = KEYPOINT + "_"
    return [name[len(prefix):] for name in metric_names if name.startswith(prefix) and name != KEYPOINT_WORLD]


def error_names(metric_names) -> dict[str, str]:
    """{report name: metric name} for the keypoint errors: overall, world frame and per group."""
    names = {"keypoint_error": KEYPOINT}
    if KEYPOINT_WORLD in metric_names:
        names["keypoint_error_world"] = KEYPOINT_WORLD
    for group in group_names(metric_names):
        names[f"keypoint_error_{group}"] = f"{KEYPOINT}_{group}"
    return names


def episodes(step_metrics: dict, terminated: np.ndarray, truncated: np.ndarray, dt: float) -> dict:
    """Per-episode results from [T, E] per-step arrays.

    Returns {"success", "terminated", "steps", "seconds", "causes": {cause: [E] bool},
    "<error name>": {"sum", "max"} per episode (sums, so that groups of episodes can be pooled by steps)}.
    """
    terminated = np.asarray(terminated) > 0
    done = terminated | (np.asarray(truncated) > 0)
    mask = episode_mask(done)
    if KEYPOINT not in step_metrics:
        raise ValueError(f"the evaluation rollout recorded no {KEYPOINT!r}; got {sorted(step_metrics)}")
    failed = np.any(terminated & mask, axis=0)
    steps = mask.sum(axis=0)
    result = {
        "success": ~failed,
        "terminated": failed,
        "ended": np.any(done & mask, axis=0),
        "steps": steps,
        "seconds": steps * float(dt),
        "causes": {
            name[len(TERMINATION_PREFIX):]: np.any((np.asarray(values) > 0) & terminated & mask, axis=0)
            for name, values in step_metrics.items()
            if name.startswith(TERMINATION_PREFIX) and name != TERMINATION_PREFIX + "any"
        },
    }
    for report_name, metric in error_names(step_metrics).items():
        values = np.where(mask, np.asarray(step_metrics[metric], np.float64), np.nan)
        result[report_name] = {"sum": np.nansum(values, axis=0), "max": np.nanmax(values, axis=0)}
    return result


def summarize(per_episode: dict, select: np.ndarray | None = None) -> dict:
    """Pooled metrics of the episodes in `select` (a bool or index array; default all), JSON-ready."""
    count = len(per_episode["success"])
    index = np.arange(count) if select is None else np.arange(count)[np.asarray(select)]
    steps = per_episode["steps"][index]
    total_steps = int(steps.sum())
    summary = {
        "episodes": int(len(index)),
        "success_rate": _float(np.mean(per_episode["success"][index])) if len(index) else math.nan,
        "failures": int(np.sum(per_episode["terminated"][index])),
        "mean_episode_seconds": _float(np.mean(per_episode["seconds"][index])) if len(index) else math.nan,
        "steps": total_steps,
    }
    for name, values in per_episode.items():
        if isinstance(values, dict) and "sum" in values:
            summary[name] = {
                "mean": _float(values["sum"][index].sum() / total_steps) if total_steps else math.nan,
                "max": _float(np.max(values["max"][index])) if len(index) else math.nan,
            }
    summary["termination_causes"] = {
        cause: int(np.sum(flags[index])) for cause, flags in per_episode["causes"].items() if np.any(flags[index])
    }
    return summary


SPLITS = ("from_start", "random_starts")  # episode groups by start; "overall" pools both


def report(per_episode: dict, clip_ids: np.ndarray, clip_names, from_start: np.ndarray | None = None) -> dict:
    """{"overall": summary, "from_start": summary, "random_starts": summary,
    "clips": [{"clip": index, "name": ..., **summary, "from_start": ..., "random_starts": ...}, ...]}.

    "overall" and each clip's own figures pool every episode (from the start and from random starts);
    "from_start"/"random_starts" pool the episodes that start at time 0 / at a random time, and are None
    when there are no such episodes. `from_start` [E] bool (default: every episode starts at time 0).
    """
    clip_ids = np.asarray(clip_ids)
    from_start = np.ones(len(clip_ids), bool) if from_start is None else np.asarray(from_start, bool)
    groups = {"from_start": from_start, "random_starts": ~from_start}

    def by_start(select):
        return {name: summarize(per_episode, select & group) if np.any(select & group) else None
                for name, group in groups.items()}

    everything = np.ones(len(clip_ids), bool)
    clips = []
    for clip in sorted(set(clip_ids.tolist())):
        select = clip_ids == clip
        clips.append({"clip": int(clip), "name": str(clip_names[clip]), **summarize(per_episode, select),
                      **by_start(select)})
    return {"overall": summarize(per_episode), **by_start(everything), "clips": clips}


def _float(value) -> float:
    return float(np.asarray(value, np.float64))


# ---- presentation ----------------------------------------------------------------------------------


def scalars(result: dict, prefix: str = "eval") -> dict[str, float]:
    """Flat "prefix/..." scalars of a `report` for TensorBoard: overall (all episodes), per start
    ("prefix/from_start/...", "prefix/random_starts/..."), then per clip ("prefix/clip/<name>/...", with
    the success rate and mean keypoint error per start under ".../<name>/from_start/..." etc.)."""
    out = {}

    def add(base: str, summary: dict | None, short: bool = False):
        if summary is None:
            return
        out[f"{base}/success_rate"] = summary["success_rate"]
        if short:
            out[f"{base}/keypoint_error/mean"] = summary["keypoint_error"]["mean"]
            return
        out[f"{base}/mean_episode_seconds"] = summary["mean_episode_seconds"]
        for name, value in summary.items():
            if isinstance(value, dict) and "mean" in value:
                out[f"{base}/{name}/mean"] = value["mean"]
                out[f"{base}/{name}/max"] = value["max"]

    add(prefix, result["overall"])
    for split in SPLITS:
        add(f"{prefix}/{split}", result.get(split))
    for clip in result["clips"]:
        base = f"{prefix}/clip/{tag_safe(clip['name'])}"
        add(base, clip)
        for split in SPLITS:
            add(f"{base}/{split}", clip.get(split), short=True)
    return out


def tag_safe(name: str) -> str:
    """`name` with anything but letters, digits, '_', '-', '.' replaced (TensorBoard tags)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def table(result: dict) -> str:
    """A plain-text table: one row per clip and the overall row; errors in cm.

    With random-start episodes, each clip (and "overall") has three rows: "start" (the from-start
    episodes), "random" (the random starts) and "all" (both together).
    """
    error_columns = [name for name, value in result["overall"].items() if isinstance(value, dict) and "mean" in value]
    split_rows = result.get("random_starts") is not None
    headers = ["clip"] + (["starts"] if split_rows else []) + ["episodes", "success"] + [
        f"{name.replace('keypoint_error', 'kp')} mean/max cm" for name in error_columns
    ]

    def cells(summary):
        row = [str(summary["episodes"]), f"{summary['success_rate']:.2f}"]
        return row + [f"{100 * summary[name]['mean']:.1f} / {100 * summary[name]['max']:.1f}" for name in error_columns]

    rows = []
    for entry in result["clips"] + [{"name": "overall", **result["overall"], **{s: result.get(s) for s in SPLITS}}]:
        if not split_rows:
            rows.append([entry["name"], *cells(entry)])
            continue
        name = entry["name"]
        for label, summary in (("start", entry.get("from_start")), ("random", entry.get("random_starts")), ("all", entry)):
            if summary is not None:
                rows.append([name, label, *cells(summary)])
                name = ""
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]

    def line(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


__all__ = ["SPLITS", "episode_mask", "episodes", "error_names", "group_names", "report", "scalars", "summarize", "table"]


def mean_and_ci(values, level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of its Student-t confidence interval at `level`) of independent runs' values
    (e.g. one per seed); the half-width is NaN with fewer than two values."""
    from scipy import stats

    values = np.asarray(values, np.float64).ravel()
    if values.size == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan
    sem = values.std(ddof=1) / math.sqrt(values.size)
    return mean, float(stats.t.ppf(0.5 + level / 2, values.size - 1) * sem)
