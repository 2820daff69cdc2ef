"""Tracking metrics of evaluation episodes, from the per-step arrays an evaluation rollout records.

Host-side NumPy, pure functions. Arrays are time-major: [T, E] for T control steps of E episodes (one
episode per env; the env's auto-reset after an episode's first done step starts an unrelated episode,
so everything after it is masked out).

  * success: the episode reached its end (the clip's end or the episode limit) without a termination;
  * keypoint error (m): the mean distance of the robot's keypoints to their goals at a step
    (`error/keypoint`, in the frame the rewards use; `error/keypoint_world` in the world frame; per
    keypoint group `error/keypoint_<group>`). "mean" averages over every evaluated step (MPJPE-style,
    so long clips weigh more), "max" is the worst step.
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


def report(per_episode: dict, clip_ids: np.ndarray, clip_names) -> dict:
    """{"overall": summary, "clips": [{"clip": index, "name": ..., **summary}, ...]}."""
    clip_ids = np.asarray(clip_ids)
    clips = []
    for clip in sorted(set(clip_ids.tolist())):
        clips.append({"clip": int(clip), "name": str(clip_names[clip]), **summarize(per_episode, clip_ids == clip)})
    return {"overall": summarize(per_episode), "clips": clips}


def _float(value) -> float:
    return float(np.asarray(value, np.float64))


# ---- presentation ----------------------------------------------------------------------------------


def scalars(result: dict, prefix: str = "eval") -> dict[str, float]:
    """Flat "prefix/..." scalars of a `report` for TensorBoard: overall, then per clip."""
    out = {}

    def add(base: str, summary: dict):
        out[f"{base}/success_rate"] = summary["success_rate"]
        out[f"{base}/mean_episode_seconds"] = summary["mean_episode_seconds"]
        for name, value in summary.items():
            if isinstance(value, dict) and "mean" in value:
                out[f"{base}/{name}/mean"] = value["mean"]
                out[f"{base}/{name}/max"] = value["max"]

    add(prefix, result["overall"])
    for clip in result["clips"]:
        add(f"{prefix}/clip/{tag_safe(clip['name'])}", clip)
    return out


def tag_safe(name: str) -> str:
    """`name` with anything but letters, digits, '_', '-', '.' replaced (TensorBoard tags)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def table(result: dict) -> str:
    """A plain-text table: one row per clip and the overall row; errors in cm."""
    error_columns = [name for name, value in result["overall"].items() if isinstance(value, dict) and "mean" in value]
    headers = ["clip", "episodes", "success"] + [
        f"{name.replace('keypoint_error', 'kp')} mean/max cm" for name in error_columns
    ]
    rows = []
    for entry in result["clips"] + [{"name": "overall", **result["overall"]}]:
        row = [entry["name"], str(entry["episodes"]), f"{entry['success_rate']:.2f}"]
        row += [f"{100 * entry[name]['mean']:.1f} / {100 * entry[name]['max']:.1f}" for name in error_columns]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]

    def line(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


__all__ = ["episode_mask", "episodes", "error_names", "group_names", "report", "scalars", "summarize", "table"]
