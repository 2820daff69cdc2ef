"""`mimicjax sweep SWEEP.py`: train every point of a grid of config overrides, one run directory each.

A sweep file is a Python file that defines

    BASE = "../smoke.py"          # an experiment file (relative: to the sweep file, then the current
                                  # directory) or an ExperimentConfig
    GRID = {                      # dotted config path -> the values to try (the grid is their product)
        "env.rewards.keypoint_group_weights": [
            {"end_effector": 4.0, "upper": 1.0, "lower": 0.5},
            {"end_effector": 1.0, "upper": 1.0, "lower": 1.0},
        ],
        "seed": [0, 1],
    }
    NAME = "keypoint_weights"     # optional; default: the file's name

or, for points that are not a product (an ablation), named VARIANTS, each a dict of overrides, crossed
with the GRID (which may then be empty or hold only e.g. the seeds):

    VARIANTS = {"full": {}, "no_symmetry": {"ppo.symmetry_coef": 0.0}}
    GRID = {"seed": [0, 1, 2]}    # -> full,seed=0 ... no_symmetry,seed=2

Values are Python literals, checked against the config field like `--set` overrides; a dict stands for
a tuple of (key, value) pairs (the form of `rewards.keypoint_group_weights`). Every point is trained
with `mimicjax.train.loop.train` in `OUT/<name>`, where the name spells out the point's overrides
(`keypoint_group_weights=end_effector-4.0_upper-1.0_lower-0.5,seed=0`). `OUT/sweep.json` indexes the
runs (overrides, status, final scalars) and is rewritten atomically after every change.

The sweep is resumable: a point whose directory holds a finished run (a checkpoint at
`train.iterations`) is skipped, an unfinished one is resumed from its latest checkpoint, and a run
directory made from a different configuration is an error rather than being overwritten.

Points that differ only in what `mimicjax.train.variants` can vary (seeds, reward weights and numeric
reward parameters, keypoint weights, PPO's learning rate and symmetry and entropy coefficients) train
together as one vmapped program: one compile, the device shared, one run directory per point all the
same (each an ordinary run: logs, checkpoints, NaN guard, resume). Any other difference (or `sequential`,
`--sequential`) trains the points one after another, each a complete run of its own. There, compiles are
what make small sweeps slow, and JAX's persistent compilation cache (which mimicjax turns on at import;
see `mimicjax._runtime_env`) removes most of them: points that leave the compiled program unchanged
compile once. Where no cache is configured, the sweep keeps one in `OUT/.jax_cache`;
`MIMICJAX_COMPILATION_CACHE=0` turns both off.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from mimicjax import config as config_lib
from mimicjax.config import ConfigError, ExperimentConfig
from mimicjax.errors import ReportedError

INDEX_FILE = "sweep.json"
CACHE_DIR = ".jax_cache"
_MAX_NAME = 96


class SweepFailed(ReportedError):
    """One or more points of a sweep failed; the others were trained and the index says which."""


@dataclasses.dataclass(frozen=True)
class Point:
    """One grid point: its run directory name, overrides and resolved configuration."""

    name: str
    overrides: dict[str, Any]
    config: ExperimentConfig


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    path: Path | None
    base: ExperimentConfig
    grid: dict[str, list]
    points: tuple[Point, ...]


# ---- the sweep file --------------------------------------------------------------------------


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = (), motions: str | None = None) -> Sweep:
    """Read a sweep file and resolve every point's configuration (so a bad value fails before training).

    `overrides` ("section.field=value") and `motions` apply to the base, hence to every point.
    """
    path = Path(path)
    module = config_lib.load_python_file(path, "sweep")
    if not hasattr(module, "BASE") or not hasattr(module, "GRID"):
        raise ConfigError(f"{path} must define BASE (an experiment file or ExperimentConfig) and GRID (a dict)")
    base = _resolve_base(module.BASE, path)
    name = getattr(module, "NAME", None) or path.stem
    return make_sweep(base, module.GRID, name=name, path=path, overrides=overrides, motions=motions,
                      variants=getattr(module, "VARIANTS", None))


def make_sweep(
    base: ExperimentConfig,
    grid: dict,
    name: str = "sweep",
    path: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    motions: str | None = None,
    variants: dict | None = None,
) -> Sweep:
    """The sweep of `grid` over `base`, crossed with the named `variants` if given (see the module
    docstring for their form)."""
    where = str(path) if path else "the sweep"
    base = config_lib.apply_overrides(base, list(overrides))
    if motions:
        base = dataclasses.replace(base, motions=dataclasses.replace(base.motions, library=str(motions)))
    grid = _check_grid(grid, where)
    named = _check_variants(variants, where) if variants is not None else {"": {}}
    labels = _labels(list(grid))
    points, names = [], []
    for (variant, changes), values in itertools.product(named.items(), itertools.product(*grid.values())):
        point = {**changes, **dict(zip(grid, values))}
        config = base
        for key, value in point.items():
            config = _override(config, key, value, where)
        name_parts = [variant] if variant else []
        name_parts += [f"{labels[key]}={_value_text(value)}" for key, value in zip(grid, values)]
        names.append(",".join(name_parts) or "base")
        if variant:
            point = {"variant": variant, **point}
        points.append((point, config))
    names = _unique_names(names, [p for p, _ in points])
    return Sweep(
        name=str(name),
        path=path,
        base=base,
        grid=grid,
        points=tuple(Point(n, p, c) for n, (p, c) in zip(names, points)),
    )


def _resolve_base(base, sweep_path: Path) -> ExperimentConfig:
    if isinstance(base, ExperimentConfig):
        return base
    if isinstance(base, (str, Path)):
        candidates = [Path(base)] if Path(base).is_absolute() else [sweep_path.parent / base, Path(base)]
        for candidate in candidates:
            if candidate.is_file():
                return config_lib.load_experiment(candidate)
        raise ConfigError(f"{sweep_path}: BASE experiment file {str(base)!r} not found (looked at {', '.join(map(str, candidates))})")
    raise ConfigError(f"{sweep_path}: BASE must be an ExperimentConfig or a path to an experiment file, got {type(base).__name__}")


def _check_variants(variants, where: str) -> dict[str, dict]:
    if not isinstance(variants, dict) or not variants:
        raise ConfigError(f"{where}: VARIANTS must be a non-empty dict of names to dicts of overrides "
                          "(dotted config path -> value)")
    checked = {}
    for name, changes in variants.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
            raise ConfigError(f"{where}: VARIANTS names must be letters, digits and _.+- (a folder name), got {name!r}")
        if not isinstance(changes, dict) or not all(isinstance(k, str) and k for k in changes):
            raise ConfigError(f"{where}: VARIANTS[{name!r}] must be a dict of dotted config paths to values, got {changes!r}")
        checked[name] = {key: config_lib.as_literal(value) for key, value in changes.items()}
    return checked


def _check_grid(grid, where: str) -> dict[str, list]:
    if not isinstance(grid, dict):
        raise ConfigError(f"{where}: GRID must be a dict of dotted config paths to lists of values, got {type(grid).__name__}")
    checked = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: GRID keys must be dotted config paths such as 'ppo.learning_rate', got {key!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{where}: GRID[{key!r}] must be a non-empty list of values, got {values!r}")
        checked[key] = [config_lib.as_literal(v) for v in values]
    return checked


def _override(config, key: str, value, where: str):
    text = repr(value)
    try:
        literal = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        literal = False
    if not literal:
        raise ConfigError(
            f"{where}: GRID[{key!r}] value {value!r} is not a Python literal (numbers, strings, booleans, "
            "None, and tuples/lists/dicts of them)"
        )
    try:
        return config_lib.apply_overrides(config, [f"{key}={text}"])
    except ConfigError as error:
        raise ConfigError(f"{where}: GRID[{key!r}]: {error}") from None


def _labels(keys: list[str]) -> dict[str, str]:
    """The last component of each path, or the whole path where two keys share it."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (short if last.count(short) == 1 else k) for k, short in zip(keys, last)}


def _value_text(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and not isinstance(value[1], tuple):
        return f"{_value_text(value[0])}-{_value_text(value[1])}"  # a (key, value) pair
    if isinstance(value, tuple):
        return "_".join(_value_text(v) for v in value) if value else "none"
    text = re.sub(r"[^A-Za-z0-9.+-]+", "_", str(value)).strip("_")
    return text or "empty"


def _short_hash(point: dict) -> str:
    return hashlib.sha1(repr(sorted(point.items())).encode()).hexdigest()[:8]


def _unique_names(names: list[str], points: list[dict]) -> list[str]:
    out = []
    for name, point in zip(names, points):
        if len(name) > _MAX_NAME or names.count(name) > 1:
            name = f"{name[:_MAX_NAME - 9]}-{_short_hash(point)}"
        out.append(name)
    return out


# ---- running ---------------------------------------------------------------------------------


@contextlib.contextmanager
def compilation_cache(directory: str | Path | None):
    """Use JAX's persistent compilation cache in `directory` inside the block.

    A no-op for None, when the process already has a cache directory, or with
    MIMICJAX_COMPILATION_CACHE=0. Compiled programs are keyed by their HLO, so runs that compile the
    same program (other seeds, a re-run) load it instead of compiling it."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as cc

    opted_out = os.environ.get("MIMICJAX_COMPILATION_CACHE", "1") == "0"
    if directory is None or opted_out or jax.config.jax_compilation_cache_dir:
        yield jax.config.jax_compilation_cache_dir
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    previous_min_time = jax.config.jax_persistent_cache_min_compile_time_secs
    cc.set_cache_dir(str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    cc.reset_cache()  # the cache is set up lazily once per process; start over with this directory
    try:
        yield str(directory)
    finally:
        cc.set_cache_dir(None)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", previous_min_time)
        cc.reset_cache()


def finished_iterations(run_dir: str | Path) -> int:
    """The latest complete checkpoint's iteration in `run_dir` (0 when there is none).

    Orbax renames a checkpoint folder to its step number only once it is complete."""
    checkpoints = Path(run_dir) / "checkpoints"
    if not checkpoints.is_dir():
        return 0
    steps = [int(p.name) for p in checkpoints.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(steps, default=0)


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    compile_cache: bool = True,
    show_progress: bool = True,
    library=None,
    sequential: bool = False,
) -> dict:
    """Train every point of `sweep` under `out`; returns the index (also written to `out/sweep.json`).

    Finished points are skipped, unfinished ones resumed. The points left train as one vmapped program
    when they may (`vmapped_points`) unless `sequential`. A point that fails is recorded as "failed"
    with its error and the sweep goes on; `SweepFailed` is raised at the end if any failed.
    """
    from mimicjax.io_utils import atomic_write_text
    from mimicjax.train import run_log
    from mimicjax.train import loop

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / INDEX_FILE
    previous = _read_index(index_path)
    index = {
        "sweep": sweep.name,
        "sweep_file": str(sweep.path) if sweep.path else None,
        "grid": {key: [_jsonable(v) for v in values] for key, values in sweep.grid.items()},
        "base": config_lib.to_dict(sweep.base),
        "runs": [
            {
                "name": p.name,
                "dir": p.name,
                "overrides": {k: _jsonable(v) for k, v in p.overrides.items()},
                "status": "pending",
                "iterations": p.config.train.iterations,
            }
            for p in sweep.points
        ],
    }
    for entry in index["runs"]:  # keep what earlier sweeps learned about these runs
        old = previous.get(entry["name"])
        if old:
            entry.update({k: v for k, v in old.items() if k in ("final", "seconds", "error", "status")})

    def write_index():
        atomic_write_text(index_path, json.dumps(index, indent=2) + "\n")

    for point in sweep.points:
        _check_same_config(out / point.name, point)
    write_index()

    libraries = {}

    def library_for(config):
        if library is not None:
            return library
        key = (config.env.robot, config.motions.library, config.motions.mirror)
        if key not in libraries:
            libraries[key] = loop.load_motions(config)
        return libraries[key]

    failures = []
    cache_dir = out / CACHE_DIR if compile_cache else None
    todo = list(zip(sweep.points, index["runs"]))
    together = [] if sequential else vmapped_points(sweep.points, out)
    with compilation_cache(cache_dir):
        if together:
            names = {point.name for point in together}
            group = [(point, entry) for point, entry in todo if point.name in names]
            todo = [(point, entry) for point, entry in todo if point.name not in names]
            failures += _train_together(sweep, group, out, write_index, library_for(together[0].config), show_progress)
        bar = run_log.progress(todo, desc=f"sweep {sweep.name}") if show_progress else todo
        for point, entry in bar:
            run_dir = out / point.name
            done = finished_iterations(run_dir)
            if done >= point.config.train.iterations:
                if entry["status"] != "finished":
                    entry.update(status="finished", final=_final_scalars(run_dir))
                    write_index()
                _say(f"sweep {sweep.name}: {point.name} already finished ({done} iterations), skipped")
                continue
            entry["status"] = "running"
            entry.pop("error", None)
            write_index()
            started = time.perf_counter()
            try:
                loop.train(
                    point.config, run_dir, resume=done > 0, library=library_for(point.config),
                    show_progress=show_progress,
                )
            except Exception as error:
                entry.update(status="failed", error=f"{type(error).__name__}: {error}", seconds=time.perf_counter() - started)
                write_index()
                failures.append((point.name, error))
                _say(f"sweep {sweep.name}: {point.name} failed: {error}")
                continue
            except BaseException:
                entry.update(status="interrupted", seconds=time.perf_counter() - started)
                write_index()
                raise
            finished = finished_iterations(run_dir) >= point.config.train.iterations  # else train.max_minutes stopped it
            entry.update(status="finished" if finished else "stopped", seconds=time.perf_counter() - started,
                         final=_final_scalars(run_dir))
            write_index()
    if failures:
        names = ", ".join(name for name, _ in failures)
        raise SweepFailed(f"{len(failures)} of {len(sweep.points)} sweep points failed ({names}); see {index_path}")
    return index


def vmapped_points(points, out: Path) -> list[Point]:
    """The points still to train, if there are at least two, all stand at the same iteration, and may
    share one vmapped program (`mimicjax.train.variants.check_variants`); else []."""
    from mimicjax.train import variants

    left = [p for p in points if finished_iterations(out / p.name) < p.config.train.iterations]
    if len(left) < 2 or len({finished_iterations(out / p.name) for p in left}) != 1:
        return []
    try:
        variants.check_variants([p.config for p in left])
    except variants.NotVmappable:
        return []
    return left


def _train_together(sweep: Sweep, group, out: Path, write_index, library, show_progress: bool) -> list:
    """Train the points of `group` ((point, index entry) pairs) as one vmapped program; the failures."""
    from mimicjax.train import variants

    points = [point for point, _ in group]
    _say(f"sweep {sweep.name}: {len(points)} runs as one vmapped program")
    for _, entry in group:
        entry["status"] = "running"
        entry["vmapped"] = len(points)
        entry.pop("error", None)
    write_index()
    started = time.perf_counter()
    try:
        variants.train_variants(
            [p.config for p in points], [out / p.name for p in points],
            resume=finished_iterations(out / points[0].name) > 0, library=library, show_progress=show_progress,
        )
    except Exception as error:
        for _, entry in group:
            entry.update(status="failed", error=f"{type(error).__name__}: {error}", seconds=time.perf_counter() - started)
        write_index()
        _say(f"sweep {sweep.name}: the vmapped runs failed: {error}")
        return [(point.name, error) for point in points]
    except BaseException:
        for _, entry in group:
            entry.update(status="interrupted", seconds=time.perf_counter() - started)
        write_index()
        raise
    seconds = time.perf_counter() - started
    for point, entry in group:
        finished = finished_iterations(out / point.name) >= point.config.train.iterations
        entry.update(status="finished" if finished else "stopped", seconds=seconds, final=_final_scalars(out / point.name))
    write_index()
    return []


def _say(message: str) -> None:
    """A line on stderr that does not break a progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


def _check_same_config(run_dir: Path, point: Point) -> None:
    """A run directory made from another configuration is never trained over."""
    from mimicjax.train.run_log import CONFIG_FILE

    saved_path = run_dir / CONFIG_FILE
    if not saved_path.is_file() or finished_iterations(run_dir) == 0:
        return
    saved = json.loads(saved_path.read_text())
    wanted = json.loads(json.dumps(config_lib.to_dict(point.config)))
    # `train` may differ: a longer train.iterations extends the runs.
    differing = sorted(k for k in set(saved) | set(wanted) if k != "train" and saved.get(k) != wanted.get(k))
    if differing:
        raise ConfigError(
            f"{run_dir} holds a run of a different configuration (differs in {', '.join(differing)}); "
            "sweep into another --out, or delete that directory to retrain it"
        )


def _final_scalars(run_dir: Path) -> dict:
    from mimicjax.train.run_log import SCALARS_FILE, read_jsonl

    path = run_dir / SCALARS_FILE
    if not path.is_file():
        return {}
    records = read_jsonl(path)
    if not records:
        return {}
    last = records[-1]
    keep = ("step", "reward/mean", "episode/return", "episode/length", "env/error/keypoint", "perf/env_steps")
    return {k: last[k] for k in keep if k in last}


def _read_index(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        runs = json.loads(path.read_text()).get("runs", [])
    except (json.JSONDecodeError, AttributeError):
        return {}
    return {r["name"]: r for r in runs if isinstance(r, dict) and "name" in r}


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


# ---- the command -----------------------------------------------------------------------------


def sweep_command(args: argparse.Namespace) -> int:
    sweep = load_sweep(args.sweep_file, args.overrides, args.motions)
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / sweep.name
    print(f"sweep {sweep.name}: {len(sweep.points)} runs in {out}", file=sys.stderr)
    index = run_sweep(sweep, out, sequential=args.sequential)
    width = max(len(r["name"]) for r in index["runs"])
    for entry in index["runs"]:
        reward = entry.get("final", {}).get("reward/mean")
        shown = "" if reward is None else f"  reward/mean {reward:.4f}"
        print(f"{entry['name']:<{width}}  {entry['status']}{shown}")
    print(f"index: {out / INDEX_FILE}")
    return 0
