"""`mimicjax ablation ABLATION.py --out DIR`: GenMimic's ablations trained, distilled, benchmarked on
perturbed motion and reported with confidence intervals over seeds, in one resumable command.

An ablation file is a sweep file (`mimicjax.train.sweep`) whose named VARIANTS are the methods, crossed
with the seeds of its GRID, plus what to distil and what to benchmark:

    BASE = "../cpu_tracking.py"
    VARIANTS = {"full": {}, "no_symmetry": {"ppo.symmetry_coef": 0.0}, ...}
    GRID = {"seed": [0, 1, 2]}
    STUDENTS = ["full"]           # variants whose teachers are distilled (DAgger, the base's distill section)
    BENCHMARK = {"motions": ["data/motions/walk.npz", ...], "levels": [0, 1, 2, 3], "random_starts": 4}
                                  # (also "seed", "retarget_steps")

Steps, each skipped where its results exist, so an interrupted ablation continues where it stopped:

 1. teachers: the sweep in DIR/teachers, one vmapped program when the variants differ only in reward
    weights, PPO coefficients and seeds (`mimicjax.train.variants`), so all get the same budget;
 2. students: DIR/students/<variant>_student,seed=S distilled from each STUDENTS variant's teacher;
 3. benchmark: `mimicjax bench robustness` of every teacher and student (DIR/robustness): each SMPL
    motion perturbed like generated-video motion at each level, retargeted, evaluated with DR off;
 4. report: DIR/ablation.json, DIR/ablation.md and DIR/ablation.png: per method (variant, teacher or
    student) and level, success and root-relative / global keypoint error (MPJPE, mm) as the mean over
    seeds with its 95 % Student-t interval.

`--report-only` redoes step 4 from what exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
from pathlib import Path

from mimicjax import config as config_lib
from mimicjax.config import ConfigError

TEACHERS, STUDENTS_DIR, ROBUSTNESS = "teachers", "students", "robustness"
REPORT_JSON, REPORT_MD, REPORT_PNG = "ablation.json", "ablation.md", "ablation.png"
STUDENT_SUFFIX = "_student"
METRICS = (("success_rate", "success (%)", 100.0), ("keypoint_error", "MPJPE root-relative (mm)", 1000.0),
           ("keypoint_error_world", "MPJPE global (mm)", 1000.0))


@dataclasses.dataclass(frozen=True)
class Ablation:
    sweep: object  # mimicjax.train.sweep.Sweep
    students: tuple[str, ...]
    motions: tuple[str, ...]
    levels: tuple[float, ...]
    random_starts: int
    seed: int
    retarget_steps: int | None = None  # Adam steps of the benchmark's retargeting (None: its default)


def load_ablation(path: str | Path, overrides=(), motions: str | None = None) -> Ablation:
    from mimicjax.eval.robustness import parse_levels
    from mimicjax.train import sweep as sweep_lib

    path = Path(path)
    module = config_lib.load_python_file(path, "ablation")
    if not hasattr(module, "VARIANTS"):
        raise ConfigError(f"{path} must define VARIANTS (the methods: name -> overrides); see `mimicjax.train.ablation`")
    sweep = sweep_lib.load_sweep(path, overrides, motions)
    variants = list(module.VARIANTS)
    students = tuple(getattr(module, "STUDENTS", ()))
    unknown = [name for name in students if name not in variants]
    if unknown:
        raise ConfigError(f"{path}: STUDENTS names {unknown}, which are not VARIANTS ({variants})")
    bench = getattr(module, "BENCHMARK", None)
    if not isinstance(bench, dict) or not bench.get("motions"):
        raise ConfigError(f"{path} must define BENCHMARK = {{'motions': [SMPL files...], 'levels': [...]}}")
    motion_paths = tuple(str(_find(m, path)) for m in bench["motions"])
    levels = tuple(parse_levels(",".join(str(level) for level in bench.get("levels", (0, 1, 2, 3, 4, 5)))))
    unknown = sorted(set(bench) - {"motions", "levels", "random_starts", "seed", "retarget_steps"})
    if unknown:
        raise ConfigError(f"{path}: BENCHMARK has unknown keys {unknown}; it takes motions, levels, random_starts, "
                          "seed, retarget_steps")
    return Ablation(sweep, students, motion_paths, levels, int(bench.get("random_starts", 4)), int(bench.get("seed", 0)),
                    bench.get("retarget_steps"))


def _find(relative: str, ablation_file: Path) -> Path:
    """A file named by the ablation file: as given (from the current directory), else beside the file."""
    for candidate in (Path(relative), ablation_file.parent / relative):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{ablation_file}: BENCHMARK motion {relative!r} not found")


def method_and_seed(name: str) -> tuple[str, str]:
    """("full", "seed=0") from a run name "full,seed=0" (the method: the name without its grid part)."""
    method, _, rest = name.partition(",")
    return method, rest or "-"


def student_name(teacher_name: str) -> str:
    method, seed = method_and_seed(teacher_name)
    return f"{method}{STUDENT_SUFFIX}" + (f",{seed}" if seed != "-" else "")


def run_ablation(ablation: Ablation, out: str | Path, show_progress: bool = True) -> dict:
    """Steps 1-4 of the module docstring under `out`; returns the report."""
    from mimicjax.eval.robustness import benchmark
    from mimicjax.train import distill as distill_lib
    from mimicjax.train import sweep as sweep_lib

    out = Path(out)
    teachers_dir = out / TEACHERS
    _say(f"ablation: {len(ablation.sweep.points)} teachers in {teachers_dir}")
    sweep_lib.run_sweep(ablation.sweep, teachers_dir, show_progress=show_progress)

    policies = [teachers_dir / point.name for point in ablation.sweep.points]
    for point in ablation.sweep.points:
        if point.overrides.get("variant") not in ablation.students:
            continue
        teacher = teachers_dir / point.name
        student = out / STUDENTS_DIR / student_name(point.name)
        policies.append(student)
        config = distill_lib.resolve_config(teacher)
        done = sweep_lib.finished_iterations(student)
        if done >= config.distill.iterations:
            continue
        _say(f"ablation: distilling {student.name}")
        distill_lib.distill(config, student, teacher_dir=teacher, resume=done > 0, show_progress=show_progress)

    _say(f"ablation: benchmarking {len(policies)} policies at levels {list(ablation.levels)}")
    benchmark(policies, ablation.motions, ablation.levels, out / ROBUSTNESS, seed=ablation.seed,
              random_starts=ablation.random_starts, retarget_steps=ablation.retarget_steps)
    return write_report(out)


def write_report(out: str | Path) -> dict:
    """Aggregate the benchmark's per-policy results in `out` over seeds (step 4)."""
    from mimicjax.eval.metrics import mean_and_ci
    from mimicjax.io_utils import atomic_write_text

    out = Path(out)
    rows = _benchmark_rows(out / ROBUSTNESS)
    if not rows:
        raise ConfigError(f"no benchmark results in {out / ROBUSTNESS}; run `mimicjax ablation ABLATION.py --out {out}`")
    methods: dict[str, dict[str, list[dict]]] = {}
    for label, per_level in rows.items():
        method, seed = method_and_seed(label)
        methods.setdefault(method, {})[seed] = per_level
    levels = sorted({row["level"] for per_level in rows.values() for row in per_level})
    report = {"levels": levels, "methods": {}}
    for method, seeds in methods.items():
        entry = {"seeds": sorted(seeds), "levels": []}
        for level in levels:
            at_level = [row for per_level in seeds.values() for row in per_level if row["level"] == level]
            stats = {"level": level, "runs": len(at_level)}
            for key, _, scale in METRICS:
                mean, half = mean_and_ci([scale * row[key] for row in at_level])
                stats[key] = {"mean": mean, "ci95": None if math.isnan(half) else half}  # None: one seed
            entry["levels"].append(stats)
        report["methods"][method] = entry
    atomic_write_text(out / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / REPORT_MD, report_table(report))
    plot_report(report, out / REPORT_PNG)
    return report


def _benchmark_rows(folder: Path) -> dict[str, list[dict]]:
    """{policy label: [summary row per level]} from the benchmark's `<label>_level_<L>.json` files."""
    from mimicjax.eval.robustness import summary_row

    rows: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*_level_*.json")) if folder.is_dir() else ():
        match = re.fullmatch(r"(.+)_level_([0-9.]+)\.json", path.name)
        if match:
            label, level = match.group(1), float(match.group(2))
            rows.setdefault(label, []).append({"level": level, **summary_row(json.loads(path.read_text()))})
    return {label: sorted(per_level, key=lambda r: r["level"]) for label, per_level in rows.items()}


def report_table(report: dict) -> str:
    """Markdown: one table per metric, methods by levels, mean +- 95 % CI over seeds."""
    lines = []
    for key, title, _ in METRICS:
        lines += [f"**{title}**, mean over seeds ± 95 % CI", "",
                  "| method | seeds | " + " | ".join(f"level {level:g}" for level in report["levels"]) + " |",
                  "|---|---:|" + "---:|" * len(report["levels"])]
        for method, entry in report["methods"].items():
            cells = []
            for stats in entry["levels"]:
                mean, half = stats[key]["mean"], stats[key]["ci95"]
                cells.append(f"{mean:.1f}" + ("" if half is None else f" ± {half:.1f}"))
            lines.append(f"| {method} | {len(entry['seeds'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_report(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mimicjax.io_utils import atomic_path

    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 4))
    for ax, (key, title, _) in zip(axes, METRICS):
        for index, (method, entry) in enumerate(report["methods"].items()):
            levels = [s["level"] for s in entry["levels"]]
            means = [s[key]["mean"] for s in entry["levels"]]
            halves = [s[key]["ci95"] or 0.0 for s in entry["levels"]]
            ax.errorbar(levels, means, yerr=halves, marker="o", capsize=3, color=f"C{index}",
                        linestyle="--" if method.endswith(STUDENT_SUFFIX) else "-",
                        label=f"{method} ({len(entry['seeds'])} seeds)")
        ax.set(xlabel="noise level", title=title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ablation_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.report_only:
        report = write_report(out)
    else:
        ablation = load_ablation(args.ablation_file, args.overrides, args.motions)
        if args.benchmark_motions:
            ablation = dataclasses.replace(ablation, motions=tuple(args.benchmark_motions))
        report = run_ablation(ablation, out)
    print(report_table(report))
    print(f"report: {out / REPORT_MD}, {out / REPORT_JSON}, {out / REPORT_PNG}")
    return 0
