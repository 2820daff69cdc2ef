"""`mimicjax bench robustness`: policies on motion perturbed like motion lifted from generated videos.

    mimicjax bench robustness --run-dir data/policies/g1_23dof_teacher --run-dir data/policies/g1_23dof_student \\
        --motions data/motions/{walk,wave,squat,side_step,turn,bow}.npz --levels 0,1,2,3,4,5 --out runs/robustness

For each level: every SMPL input is perturbed with all the artefacts of `mimicjax.motion.noise` at that
level (seeded), retargeted onto the policies' robot in one batch (`OUT/level_<L>.npz`), and every policy is evaluated
on the result as `mimicjax eval` does (randomisation off, every clip and its mirror from its start and
from `--random-starts` random times; `OUT/<policy>_level_<L>.json`). Success is GenMimic's / PHC's: the
episode reaches the end of its clip without falling and without any keypoint more than the termination
distance (0.5 m) from its goal. Errors are measured against the perturbed reference the policy was
asked to track: root-relative (anchored) and global keypoint errors, per keypoint group.

Every finished file is kept, so an interrupted benchmark resumes where it stopped. The table (JSON) and
`OUT/robustness.png` (success and keypoint error against level, one line per policy) come last.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", action="append", required=True, metavar="POLICY",
                        help="a teacher or student run, or an exported policy (repeatable)")
    parser.add_argument("--motions", nargs="+", required=True, metavar="SMPL", help="human motion files to perturb")
    parser.add_argument("--levels", default="0,1,2,3,4,5", metavar="L,L,...", help="noise levels (default 0-5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations and the random starts")
    parser.add_argument("--random-starts", type=int, default=4, metavar="R", help="random-start episodes per clip (default 4)")
    parser.add_argument("--retarget-steps", type=int, default=None, metavar="N", help="Adam steps of the retargeting")
    parser.add_argument("--artefacts", default=None, metavar="NAME,NAME,...",
                        help="only these artefacts of mimicjax.motion.noise (default: all), e.g. jitter,flicker to "
                        "see which of them a policy cannot track")
    parser.add_argument("--out", required=True, metavar="DIR", help="libraries, per-policy results and the plot")


def parse_levels(text: str) -> list[float]:
    from mimicjax.motion.noise import MAX_LEVEL

    try:
        levels = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--levels must be numbers like 0,1,2, got {text!r}") from None
    if not levels or any(not 0 <= level <= MAX_LEVEL for level in levels):
        raise ValueError(f"--levels must be within 0..{MAX_LEVEL}, got {text!r}")
    return sorted(set(levels))


def policy_label(run_dir: str | Path) -> str:
    return Path(run_dir).resolve().name


def parse_artefacts(text: str | None) -> tuple[str, ...]:
    from mimicjax.motion.noise import ARTEFACT_NAMES

    if text is None:
        return tuple(ARTEFACT_NAMES)
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(names) - set(ARTEFACT_NAMES))
    if not names or unknown:
        raise ValueError(f"--artefacts {text!r}: unknown or none; choose from {', '.join(ARTEFACT_NAMES)}")
    return names


def check_out_dir(out: Path, request: dict) -> None:
    """An --out folder keeps what it was made with (`request.json`): its files are reused on a rerun, so a
    rerun with other motions, artefacts, seed or retargeting must go elsewhere, not mix with them."""
    from mimicjax.io_utils import atomic_write_text

    path = out / "request.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        changed = sorted(key for key in request if saved.get(key) != request[key])
        if changed:
            raise ValueError(f"{out} holds a benchmark made with other {', '.join(changed)}; choose another --out "
                             f"(or delete it) so the results do not mix")
    else:
        atomic_write_text(path, json.dumps(request, indent=1) + "\n")


def level_library(motions, level: float, seed: int, robot, out: Path, retarget_steps: int | None,
                  artefacts=None) -> Path:
    """The perturbed, retargeted library of one level (made once, then reused)."""
    from mimicjax.motion import noise
    from mimicjax.motion.library import build_library, save_library
    from mimicjax.retarget.pipeline import RetargetConfig, retarget_motions

    path = out / f"level_{level:g}.npz"
    if path.is_file():
        return path
    noisy = [noise.perturb(m, level, seed, artefacts or noise.ARTEFACT_NAMES) for m in motions]
    config = RetargetConfig() if retarget_steps is None else RetargetConfig(steps=retarget_steps)
    names = [Path(m.source.split(" [")[0]).stem for m in motions]
    results = retarget_motions(noisy, robot, config=config, names=names)
    save_library(build_library([r.motion for r in results], robot, names=names), path)
    return path


def summary_row(result: dict) -> dict:
    overall = result["overall"]
    row = {"success_rate": overall["success_rate"], "episodes": overall["episodes"],
           "keypoint_error": overall["keypoint_error"]["mean"],
           "keypoint_error_world": overall["keypoint_error_world"]["mean"]}
    row.update({k: overall[k]["mean"] for k in overall if k.startswith("keypoint_error_") and k != "keypoint_error_world"})
    return row


def run(args: argparse.Namespace) -> dict:
    return benchmark(args.run_dir, args.motions, parse_levels(args.levels), args.out, seed=args.seed,
                     random_starts=args.random_starts, retarget_steps=args.retarget_steps,
                     artefacts=parse_artefacts(args.artefacts))


def benchmark(run_dirs, motion_paths, levels, out, seed: int = 0, random_starts: int = 4,
              retarget_steps: int | None = None, artefacts=None) -> dict:
    """Every policy of `run_dirs` on the SMPL files `motion_paths` perturbed at each of `levels` (see the
    module docstring); the results table, also plotted to `out/robustness.png`."""
    from mimicjax.eval.commands import evaluate
    from mimicjax.human import load_human_motion
    from mimicjax.motion.noise import ARTEFACT_NAMES
    from mimicjax.train.runs import read_run_config

    if random_starts < 0:
        raise ValueError(f"--random-starts must be 0 or more, got {random_starts}")
    artefacts = tuple(artefacts or ARTEFACT_NAMES)
    labels = [policy_label(run_dir) for run_dir in run_dirs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two --run-dir folders share the name {labels}; their results would collide")
    robot_names = {read_run_config(run_dir).env.robot for run_dir in run_dirs}
    if len(robot_names) != 1:
        raise ValueError(f"the policies drive different robots ({sorted(robot_names)}); benchmark one robot at a time")
    robot = read_run_config(run_dirs[0]).env.load_robot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    check_out_dir(out, {"motions": [Path(p).name for p in motion_paths], "artefacts": list(artefacts),
                        "seed": seed, "retarget_steps": retarget_steps, "random_starts": random_starts})
    motions = [load_human_motion(path) for path in motion_paths]

    table = {label: [] for label in labels}
    for i, level in enumerate(levels):
        print(f"[robustness] level {level:g} ({i + 1}/{len(levels)})", file=sys.stderr, flush=True)
        library = level_library(motions, level, seed, robot, out, retarget_steps, artefacts)
        for run_dir, label in zip(run_dirs, labels):
            path = out / f"{label}_level_{level:g}.json"
            if not path.is_file():
                evaluate(run_dir, motions=library, json_path=path, log=False, random_starts=random_starts, seed=seed)
            table[label].append({"level": level, **summary_row(json.loads(path.read_text()))})
    plot_robustness(table, out / "robustness.png")
    return {
        "benchmark": "robustness",
        "robot": robot.name,
        "clips": [Path(p).stem for p in motion_paths],
        "levels": list(levels),
        "artefacts": list(artefacts),
        "seed": seed,
        "random_starts": random_starts,
        "policies": {label: str(run_dir) for label, run_dir in zip(labels, run_dirs)},
        "results": table,
        "plot": str(out / "robustness.png"),
    }


def plot_robustness(table: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mimicjax.io_utils import atomic_path

    fig, (ax_success, ax_error) = plt.subplots(1, 2, figsize=(11, 4))
    for index, (label, rows) in enumerate(table.items()):
        levels = [row["level"] for row in rows]
        color = f"C{index}"  # one colour per policy in both panels
        ax_success.plot(levels, [100 * row["success_rate"] for row in rows], marker="o", color=color, label=label)
        ax_error.plot(levels, [100 * row["keypoint_error"] for row in rows], marker="o", color=color,
                      label=f"{label} (root-anchored)")
        ax_error.plot(levels, [100 * row["keypoint_error_world"] for row in rows], marker="s", linestyle="--",
                      color=color, label=f"{label} (global)")
    ax_success.set(xlabel="noise level", ylabel="success (%)", title="success on perturbed motion", ylim=(0, 105))
    ax_error.set(xlabel="noise level", ylabel="keypoint error (cm)", title="keypoint error to the perturbed reference")
    for ax in (ax_success, ax_error):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
