"""Retargeting on the 13 real video-lifted SMPL clips of the reference data: before/after, sweep, noise suite.

    python experiments/retarget_generalisation.py [--reference ../shared/reference] [--seeds 0,1,2]

Writes experiments/results/retarget_generalisation.md, its numbers (retarget_generalisation/results.json)
and plots (retarget_generalisation/*.png). Every figure is over all 13 clips (the ASAP walk and the 12
tairantestbed clips), with one exception: joint acceleration is also read on the walk alone, because
ASAP's own retarget of that clip is the smoothness reference.

  before   the retargeting defaults until 2026-12-03 (`BEFORE`)
  after    the current defaults (`RetargetConfig()`)
  sweep    steps x smoothness weight x smoothness ramp on the 23-DoF G1 (the choice of the defaults)
  robots   before/after on the 29-DoF G1 and the H1 (no tuning there)
  noise    every artefact of `mimicjax.motion.noise` at levels 0-5, then retargeted: limb error against
           the CLEAN human clip (how far the noise pushes the robot) and jitter, per level

Limb error: mean over frames of the angle between each robot limb and the human's matching limb
(`mimicjax.retarget.metrics.limb_angles_deg`); jitter: mean |joint acceleration| by second differences
(`metrics.jitter`). Frames per second come from `mimicjax bench retarget --json` runs (pass them with
--bench; the document lists the commands).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mimicjax.retarget.solver import RetargetConfig  # noqa: E402

# The defaults until 2026-12-03: a faint smoothness term at full weight from the first step.
BEFORE = RetargetConfig(steps=150, smoothness=2e-7, smoothness_ramp=(0.0, 0.0))
AFTER = RetargetConfig()
SWEEP_STEPS = (150, 200, 250)
SWEEP_SMOOTHNESS = (3e-6, 1e-5, 3e-5)
SWEEP_RAMPS = ((0.5, 0.8), (0.3, 0.7), (0.0, 0.0))
ROBOTS = ("g1_23dof", "g1_29dof", "h1")
ASAP_WALK_JITTER_ROBOT = "g1_23dof"  # ASAP's retarget of the walk is for the 23-DoF G1
WALK = "asap_video_walk_level1_filter_amass"
TARGET_MEAN_DEG, TARGET_UPPER_ARM_DEG = 5.0, 7.0


def real_clip_paths(reference: Path) -> list[Path]:
    smpl = reference / "smpl"
    return [smpl / f"{WALK}.npz"] + sorted((smpl / "asap_tairantestbed").glob("*.npz"))


def config_label(config: RetargetConfig) -> str:
    start, end = config.smoothness_ramp
    ramp = "full weight from the start" if end <= start else f"ramp {start:g}-{end:g}"
    return f"{config.steps} steps, smoothness {config.smoothness:g}, {ramp}"


# ---- measuring ----------------------------------------------------------------------------------------


def retarget(motions, names, robot_name: str, config: RetargetConfig):
    from mimicjax import robots
    from mimicjax.retarget.pipeline import retarget_motions

    return retarget_motions(motions, robots.get(robot_name), config=config, names=names)


def summary(results) -> dict:
    """Figures over all clips: per-limb and mean limb error (deg), jitter, keypoint error, limits, floor."""
    limbs = {limb: float(np.mean([r.report["limb_angle_deg"][limb] for r in results])) for limb in results[0].report["limb_angle_deg"]}
    by_name = {r.name: r for r in results}
    return {
        "limb_angle_deg": limbs,
        "limb_angle_mean_deg": float(np.mean([r.report["limb_angle_mean_deg"] for r in results])),
        "upper_arm_worst_deg": max(v for k, v in limbs.items() if "upper_arm" in k),
        "forearm_worst_deg": max(v for k, v in limbs.items() if "forearm" in k),
        "jitter_mean_rad_s2": float(np.mean([r.report["jitter_rad_s2"] for r in results])),
        "walk_jitter_rad_s2": by_name[WALK].report["jitter_rad_s2"] if WALK in by_name else None,
        "keypoint_error_mean_cm": 100 * float(np.mean([r.report["keypoint_error_mean_m"] for r in results])),
        "joint_limit_violations": int(sum(r.report["joint_limit_violations"] for r in results)),
        "foot_penetration_max_mm": 1000 * max(r.report["foot_penetration_max_m"] for r in results),
        "floor_lift_max_mm": 1000 * max(r.report["floor_lift_max_m"] for r in results),
    }


def per_clip(results) -> dict:
    keep = ("frames", "limb_angle_mean_deg", "jitter_rad_s2", "keypoint_error_mean_m", "joint_limit_violations",
            "foot_penetration_max_m")
    rows = {}
    for r in results:
        row = {key: r.report[key] for key in keep}
        row["upper_arm_worst_deg"] = max(v for k, v in r.report["limb_angle_deg"].items() if "upper_arm" in k)
        rows[r.name] = row
    return rows


def asap_walk(reference: Path, walk_result) -> dict:
    """ASAP's 23-DoF retarget of the walk, measured like ours against the same human joints."""
    from mimicjax import robots
    from mimicjax.motion.robot_files import load_robot_motion
    from mimicjax.retarget import metrics

    robot = robots.get(ASAP_WALK_JITTER_ROBOT)
    asap = load_robot_motion(reference / "g1_motions" / "asap_g1_video_walk_level1_filter.pkl", robot=robot)
    targets = walk_result.targets
    limbs = metrics.clip_limb_angles_deg(asap, robot, targets.human_joints, heading_turn=targets.heading_turn)
    return {"limb_angle_deg": limbs, "limb_angle_mean_deg": float(np.mean(list(limbs.values()))),
            "jitter_rad_s2": metrics.jitter(asap.joint_pos, asap.fps)}


def sweep(motions, names) -> list[dict]:
    rows = []
    for steps in SWEEP_STEPS:
        for smoothness in SWEEP_SMOOTHNESS:
            for ramp in SWEEP_RAMPS:
                config = RetargetConfig(steps=steps, smoothness=smoothness, smoothness_ramp=ramp)
                start = time.perf_counter()
                row = summary(retarget(motions, names, "g1_23dof", config))
                rows.append({"steps": steps, "smoothness": smoothness, "ramp": list(ramp), **row,
                             "seconds": time.perf_counter() - start})
                print(f"sweep {config_label(config)}: mean {row['limb_angle_mean_deg']:.2f} deg, "
                      f"walk jitter {row['walk_jitter_rad_s2']:.2f}", flush=True)
    return rows


def limbs_against_clean(noisy_result, clean_result, robot_name: str) -> dict:
    """Limb angles (deg) of a retarget of a perturbed clip against the clean clip's human limbs.

    Both retargets turned their clip to face +x from its own first frame; the noisy one is turned back
    onto the clean one's heading before comparing directions.
    """
    from mimicjax import robots
    from mimicjax.retarget import metrics

    turn = clean_result.targets.heading_turn - noisy_result.targets.heading_turn
    return metrics.clip_limb_angles_deg(noisy_result.motion, robots.get(robot_name), clean_result.targets.human_joints,
                                        heading_turn=turn)


def human_limbs_against_clean(noisy_result, clean_result, robot_name: str) -> dict:
    """Limb angles (deg) of the perturbed human clip itself against the clean one: what the noise does to the
    input, the error a retarget that follows its input exactly would have on top of its clean error."""
    from scipy.spatial.transform import Rotation

    from mimicjax import robots
    from mimicjax.retarget import metrics
    from mimicjax.retarget.correspondence import robot_geometry

    geometry = robot_geometry(robots.get(robot_name))
    turn = Rotation.from_euler("z", clean_result.targets.heading_turn - noisy_result.targets.heading_turn).as_matrix()
    noisy_sites = noisy_result.targets.human_joints[:, geometry.site_smpl] @ turn.T
    return metrics.limb_angles_deg(geometry, noisy_sites, clean_result.targets.human_joints)


def noise_suite(motions, names, robot_name: str, config: RetargetConfig, seeds, levels) -> dict:
    """{level: {limb_angle_mean_deg, upper_arm_worst_deg, jitter_mean_rad_s2, ...}} averaged over clips and seeds."""
    from mimicjax.motion import noise

    clean = retarget(motions, names, robot_name, config)
    table = {}
    for level in levels:
        limb_rows, input_rows, jitters, violations, penetration = [], [], [], 0, 0.0
        for seed in seeds:
            noisy = clean if level == 0 else retarget([noise.perturb(m, level, seed) for m in motions], names, robot_name, config)
            for noisy_clip, clean_clip in zip(noisy, clean):
                limb_rows.append(limbs_against_clean(noisy_clip, clean_clip, robot_name))
                input_rows.append(human_limbs_against_clean(noisy_clip, clean_clip, robot_name))
                jitters.append(noisy_clip.report["jitter_rad_s2"])
                violations += noisy_clip.report["joint_limit_violations"]
                penetration = max(penetration, noisy_clip.report["foot_penetration_max_m"])
            if level == 0:
                break  # level 0 is the clean clip whatever the seed
        limbs = {limb: float(np.mean([row[limb] for row in limb_rows])) for limb in limb_rows[0]}
        table[level] = {"limb_angle_deg": limbs, "limb_angle_mean_deg": float(np.mean(list(limbs.values()))),
                        "human_input_limb_angle_mean_deg": float(np.mean([np.mean(list(row.values())) for row in input_rows])),
                        "upper_arm_worst_deg": max(v for k, v in limbs.items() if "upper_arm" in k),
                        "jitter_mean_rad_s2": float(np.mean(jitters)), "joint_limit_violations": violations,
                        "foot_penetration_max_mm": 1000 * penetration}
        print(f"noise {robot_name} level {level} ({config_label(config)}): {table[level]['limb_angle_mean_deg']:.2f} deg, "
              f"jitter {table[level]['jitter_mean_rad_s2']:.2f}", flush=True)
    return table


# ---- plots --------------------------------------------------------------------------------------------


def plot_noise(noise: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    first = next(iter(noise.values()))
    axes[0].plot([int(level) for level in first], [r["human_input_limb_angle_mean_deg"] for r in first.values()], color="gray",
                 ls=":", marker=".", label="the noisy human's own limbs")
    for label, table in noise.items():
        levels = [int(level) for level in table]
        rows = list(table.values())
        line = axes[0].plot(levels, [r["limb_angle_mean_deg"] for r in rows], marker="o", label=f"{label}: mean")[0]
        axes[0].plot(levels, [r["upper_arm_worst_deg"] for r in rows], marker="s", ls="--", color=line.get_color(),
                     label=f"{label}: worse upper arm")
        axes[1].plot(levels, [r["jitter_mean_rad_s2"] for r in rows], marker="o", color=line.get_color(), label=label)
    axes[0].set_ylabel("limb angle to the clean human limb (deg)")
    axes[0].set_title("limb error against the clean clip")
    axes[1].set_ylabel("mean |joint acceleration| (rad/s$^2$)")
    axes[1].set_title("jitter of the retargeted clip")
    for ax in axes:
        ax.set_xlabel("noise level (every artefact)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("23-DoF G1, 13 real video-lifted clips, mean over seeds")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_sweep(rows: list[dict], asap_jitter: float, chosen: RetargetConfig, before: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 5))
    markers = {150: "o", 200: "s", 250: "^"}
    for ramp, color in zip(SWEEP_RAMPS, ("tab:blue", "tab:orange", "tab:gray")):
        for steps in SWEEP_STEPS:
            picked = [r for r in rows if tuple(r["ramp"]) == ramp and r["steps"] == steps]
            label = f"{steps} steps, " + ("no ramp" if ramp[1] <= ramp[0] else f"ramp {ramp[0]:g}-{ramp[1]:g}")
            ax.plot([r["walk_jitter_rad_s2"] for r in picked], [r["limb_angle_mean_deg"] for r in picked],
                    marker=markers[steps], color=color, ls="-", alpha=0.8, label=label)
    ax.scatter([before["walk_jitter_rad_s2"]], [before["limb_angle_mean_deg"]], marker="*", s=200, color="black", zorder=5,
               label="before (defaults until 2026-12-03)")
    chosen_row = next(r for r in rows if r["steps"] == chosen.steps and r["smoothness"] == chosen.smoothness
                      and tuple(r["ramp"]) == tuple(chosen.smoothness_ramp))
    ax.scatter([chosen_row["walk_jitter_rad_s2"]], [chosen_row["limb_angle_mean_deg"]], marker="*", s=200, color="tab:red",
               zorder=5, label="after (new defaults)")
    ax.axvline(asap_jitter, color="k", ls=":", label=f"ASAP's walk ({asap_jitter:.2f} rad/s$^2$)")
    ax.axhline(TARGET_MEAN_DEG, color="tab:red", ls=":", label=f"target mean {TARGET_MEAN_DEG:g} deg")
    ax.set_xlabel("jitter on the walk, mean |joint acceleration| (rad/s$^2$)")
    ax.set_ylabel("mean limb angle over the 13 clips (deg)")
    ax.set_yscale("log")  # the unramped settings sit 2-4x higher than the rest
    ticks = [4, 5, 6, 8, 10, 15, 20]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title("23-DoF G1: smoothness sweep (points: weights 3e-6, 1e-5, 3e-5)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


# ---- the document -------------------------------------------------------------------------------------


def _limb_table(columns: dict) -> list[str]:
    names = list(columns)
    lines = ["| limb angle (deg) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for limb in next(iter(columns.values()))["limb_angle_deg"]:
        lines.append(f"| {limb} | " + " | ".join(f"{columns[n]['limb_angle_deg'][limb]:.2f}" for n in names) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{columns[n]['limb_angle_mean_deg']:.2f}**" for n in names) + " |")
    return lines


def _summary_rows(columns: dict) -> list[str]:
    names = list(columns)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key, fmt in (("mean limb angle (deg)", "limb_angle_mean_deg", "{:.2f}"),
                            ("worse upper arm (deg)", "upper_arm_worst_deg", "{:.2f}"),
                            ("worse forearm (deg)", "forearm_worst_deg", "{:.2f}"),
                            ("jitter on the walk (rad/s^2)", "walk_jitter_rad_s2", "{:.2f}"),
                            ("jitter, mean over the 13 clips (rad/s^2)", "jitter_mean_rad_s2", "{:.2f}"),
                            ("keypoint error mean (cm)", "keypoint_error_mean_cm", "{:.2f}"),
                            ("joint-limit violations (frame x joint)", "joint_limit_violations", "{}"),
                            ("foot penetration, max (mm)", "foot_penetration_max_mm", "{:.1f}"),
                            ("root raised by the final floor clamp, max (mm)", "floor_lift_max_mm", "{:.1f}")):
        lines.append(f"| {label} | " + " | ".join(fmt.format(columns[n][key]) for n in names) + " |")
    return lines


def _per_clip_table(before: dict, after: dict) -> list[str]:
    lines = ["| clip | frames | limb angle deg before / after | worse upper arm deg before / after | "
             "jitter rad/s^2 before / after | keypoint error cm before / after |", "|---|---:|---:|---:|---:|---:|"]
    for name in before:
        b, a = before[name], after[name]
        lines.append(f"| {name} | {b['frames']} | {b['limb_angle_mean_deg']:.2f} / {a['limb_angle_mean_deg']:.2f} | "
                     f"{b['upper_arm_worst_deg']:.2f} / {a['upper_arm_worst_deg']:.2f} | "
                     f"{b['jitter_rad_s2']:.2f} / {a['jitter_rad_s2']:.2f} | "
                     f"{100 * b['keypoint_error_mean_m']:.2f} / {100 * a['keypoint_error_mean_m']:.2f} |")
    return lines


def _sweep_table(rows: list[dict]) -> list[str]:
    lines = ["| steps | smoothness | ramp | mean limb deg | worse upper arm deg | worse forearm deg | walk jitter | "
             "mean jitter | keypoint cm | limit viol. | penetration mm |", "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ramp = "none" if r["ramp"][1] <= r["ramp"][0] else f"{r['ramp'][0]:g}-{r['ramp'][1]:g}"
        lines.append(f"| {r['steps']} | {r['smoothness']:g} | {ramp} | {r['limb_angle_mean_deg']:.2f} | "
                     f"{r['upper_arm_worst_deg']:.2f} | {r['forearm_worst_deg']:.2f} | {r['walk_jitter_rad_s2']:.2f} | "
                     f"{r['jitter_mean_rad_s2']:.2f} | {r['keypoint_error_mean_cm']:.2f} | {r['joint_limit_violations']} | "
                     f"{r['foot_penetration_max_mm']:.1f} |")
    return lines


def _noise_table(noise: dict) -> list[str]:
    labels = list(noise)
    header = "| level | noisy human limbs vs clean, deg | " + " | ".join(
        f"{label}: mean limb deg | {label}: worse upper arm deg | {label}: jitter rad/s^2" for label in labels) + " |"
    lines = [header, "|---:|---:|" + "---:|---:|---:|" * len(labels)]
    for level in noise[labels[0]]:
        cells = [f"{noise[labels[0]][level]['human_input_limb_angle_mean_deg']:.2f}"]
        for label in labels:
            row = noise[label][level]
            cells.append(f"{row['limb_angle_mean_deg']:.2f} | {row['upper_arm_worst_deg']:.2f} | {row['jitter_mean_rad_s2']:.2f}")
        lines.append(f"| {level} | " + " | ".join(cells) + " |")
    return lines


def _bench_lines(bench: dict) -> list[str]:
    if not bench:
        return ["(no `--bench` runs given)"]
    lines = ["| run | Adam steps | frames | frames/s (wall, best of 3) | frames per CPU second | 1-min load average | compile s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, b in bench.items():
        lines.append(f"| {label} | {b['adam_steps']} | {b['frames']} | {b['frames_per_second']:,.0f} | "
                     f"{b['frames_per_cpu_second']:,.0f} | {b['load_average_1min']:.1f} | {b['compile_seconds']:.1f} |")
    return lines


def markdown(data: dict) -> str:
    before, after = data["g1_23dof"]["before"], data["g1_23dof"]["after"]
    asap = data["asap_walk"]
    shortfalls = []
    for robot, rows in data["robots"].items():
        a = rows["after"]
        if a["limb_angle_mean_deg"] > TARGET_MEAN_DEG:
            shortfalls.append(f"{robot}: mean limb angle {a['limb_angle_mean_deg']:.2f} deg > {TARGET_MEAN_DEG:g}")
        if a["upper_arm_worst_deg"] > TARGET_UPPER_ARM_DEG:
            shortfalls.append(f"{robot}: upper arm {a['upper_arm_worst_deg']:.2f} deg > {TARGET_UPPER_ARM_DEG:g}")
        if a["joint_limit_violations"] or a["foot_penetration_max_mm"] > 0.1:
            shortfalls.append(f"{robot}: {a['joint_limit_violations']} limit violations, {a['foot_penetration_max_mm']:.1f} mm penetration")
    if after["walk_jitter_rad_s2"] > asap["jitter_rad_s2"]:
        shortfalls.append(f"walk jitter {after['walk_jitter_rad_s2']:.2f} > ASAP's {asap['jitter_rad_s2']:.2f}")
    clips_before, clips_after = data["g1_23dof"]["per_clip_before"], data["g1_23dof"]["per_clip_after"]
    for name, a in clips_after.items():
        b = clips_before[name]
        if a["limb_angle_mean_deg"] > TARGET_MEAN_DEG or a["upper_arm_worst_deg"] > TARGET_UPPER_ARM_DEG:
            shortfalls.append(f"per clip (the targets are on the 13-clip means): {name} on the 23-DoF G1 has a mean limb"
                              f" angle of {a['limb_angle_mean_deg']:.2f} deg (before {b['limb_angle_mean_deg']:.2f}) and"
                              f" {a['upper_arm_worst_deg']:.2f} deg on its worse upper arm (before {b['upper_arm_worst_deg']:.2f});"
                              f" its joints accelerate fast (jitter {b['jitter_rad_s2']:.1f} rad/s^2 before, {a['jitter_rad_s2']:.1f}"
                              " after), and the smoothness term damps fast real motion along with noise")
    noise_before, noise_after = data["noise"]["before"], data["noise"]["after"]
    top = max(noise_after)
    robots_columns = {f"{robot} {when}": data["robots"][robot][when] for robot in data["robots"] for when in ("before", "after")}
    lines = [
        "# Retargeting that generalises: 13 real video-lifted clips, before and after",
        "",
        f"- Date: {data['date']}. Machine: {data['machine']}.",
        "- Command (everything below but the frames/s):",
        "",
        "      python experiments/retarget_generalisation.py --seeds " + ",".join(map(str, data["seeds"]))
        + " --bench experiments/results/retarget_generalisation/bench_150_steps.json"
        + " --bench experiments/results/retarget_bench_cpu.json",
        "",
        f"  ({data['seconds'] / 60:.0f} min on this machine, niced, next to a training run).",
        "- Frames/s: `mimicjax bench retarget --steps 150 --json experiments/results/retarget_generalisation/bench_150_steps.json`"
        " (the old step count) and `mimicjax bench retarget --json experiments/results/retarget_bench_cpu.json` (the new default).",
        "- Clips: `smpl/asap_video_walk_level1_filter_amass.npz` and the 12 `smpl/asap_tairantestbed/*.npz` of the"
        " shared reference data (SMPL lifted from real videos, 30 fps, 1,956 frames in all), retargeted together as"
        " `mimicjax retarget <13 clips> --robot ROBOT` does, skeleton-only SMPL (mean shape).",
        f"- Before: `{config_label(BEFORE)}` (the defaults until this change). After: `{config_label(AFTER)}`"
        " (`RetargetConfig()` now). Reproduce the old behaviour with"
        " `mimicjax retarget ... --steps 150 --set smoothness=2e-7 --set smoothness_ramp=0,0`.",
        "- Limb angle: mean over frames of the angle between each robot limb (hip->knee, knee->ankle,"
        " shoulder->elbow, elbow->wrist sites) and the human's. Jitter: mean |joint acceleration| by second"
        " differences (`mimicjax.retarget.metrics.jitter`), the measure ASAP's walk is read with.",
        "",
        "## What changed and why",
        "",
        "The jitter was not in the human clips so much as in the solve: a per-frame keypoint fit with a"
        " smoothness weight too faint to matter. A stronger weight at full strength from the first Adam step"
        " makes the problem stiff (every frame is tied to its neighbours while the poses are still far from the"
        " goals) and Adam crawls: with no ramp, smoothness 3e-6 to 3e-5 leaves the limbs 10-18 deg off after"
        " 150-250 steps (sweep below). The smoothness weight now fades in between 50 % and 80 % of the steps, once the"
        " per-frame poses have been found, so it only has to remove the frame-to-frame noise: a continuation,"
        " not a filter of the goals (a Gaussian filter of the goal sites and orientations, tried first in an"
        " exploratory run not repeated here, took the walk only from 3.2 to 2.6 rad/s^2 at sigma 2 frames:"
        " most of the jitter came from the solve). The weight (1e-5, 50x the old one), the ramp and the steps (200, was 150) were chosen on the"
        " sweep over all 13 clips: of the settings whose walk jitter is clearly under ASAP's (1.8 rad/s^2 or"
        " less), the one with the lowest mean limb angle for at most 200 steps (250 steps would buy 0.02 deg for a"
        " quarter more time). At 150 steps only an earlier ramp (0.3-0.7) is as"
        " smooth, for 0.3 deg more on the 23-DoF G1 and, in an exploratory run, more than a degree more on the"
        " 29-DoF G1 (5.9 deg); the 200-step setting leaves the 29-DoF G1 and the H1 no worse than before"
        " (table below).",
        "",
        "## 23-DoF G1, all 13 clips",
        "",
        *_limb_table({"before": before, "after": after, "ASAP (walk only)": asap}),
        "",
        *_summary_rows({"before": before, "after": after}),
        "",
        f"ASAP's own retarget of the walk: jitter **{asap['jitter_rad_s2']:.2f}** rad/s^2, mean limb angle"
        f" {asap['limb_angle_mean_deg']:.2f} deg on that clip (its ankle joints barely move, which lowers its"
        " mean acceleration).",
        "",
        "Per clip (23-DoF G1):",
        "",
        *_per_clip_table(data["g1_23dof"]["per_clip_before"], data["g1_23dof"]["per_clip_after"]),
        "",
        "## 29-DoF G1 and H1 (not tuned on)",
        "",
        *_summary_rows(robots_columns),
        "",
        "## Sweep (23-DoF G1, 13 clips)",
        "",
        "![limb angle against walk jitter for every setting](retarget_generalisation/sweep.png)",
        "",
        *_sweep_table(data["sweep"]),
        "",
        "## Under the noise suite (23-DoF G1, 13 clips)",
        "",
        f"Every artefact of `mimicjax.motion.noise` at once (`perturb(motion, level, seed)`, as"
        f" `mimicjax motions perturb` writes them), seeds {', '.join(map(str, data['seeds']))}, then retargeted."
        " The limb angle is against the CLEAN clip's human limbs, so it measures how far the noise pushes the"
        " robot; jitter is of the retargeted (noisy) clip. Level 0 is the clean clip.",
        "",
        "![limb error and jitter against noise level, before and after](retarget_generalisation/noise.png)",
        "",
        *_noise_table(data["noise"]),
        "",
        f"The smoothing does not undo the pose artefacts: at level {top} the noisy human limbs are"
        f" {noise_after[top]['human_input_limb_angle_mean_deg']:.1f} deg from the clean ones, and the robot follows them"
        f" ({noise_before[top]['limb_angle_mean_deg']:.1f} deg before, {noise_after[top]['limb_angle_mean_deg']:.1f} after),"
        " since jitter, wobble and flicker change where the limbs point, which is what the retargeting is asked to"
        " follow. What the new defaults do change is how much of the noise reaches the joints as acceleration:"
        f" {noise_before[top]['jitter_mean_rad_s2']:.1f} rad/s^2 before, {noise_after[top]['jitter_mean_rad_s2']:.1f} after"
        f" at level {top}.",
        "",
        "Joint-limit violations over all noise runs: "
        + ", ".join(f"{label} {sum(r['joint_limit_violations'] for r in table.values())}" for label, table in data["noise"].items())
        + "; foot penetration max: "
        + ", ".join(f"{label} {max(r['foot_penetration_max_mm'] for r in table.values()):.1f} mm" for label, table in data["noise"].items())
        + ".",
        "",
        "## Frames per second (CPU)",
        "",
        *_bench_lines(data["bench"]),
        "",
        "The bench retargets the three sample clips repeated to about 2,000 frames onto the 29-DoF G1; the"
        " cost is linear in the Adam steps, so the new default costs a third more per frame. The machine was"
        " shared with a training run (load average above), so the frames per CPU second are the better guide.",
        "",
        "## Fell short",
        "",
        *([f"- {s}" for s in shortfalls] or ["- Nothing of the targets: mean <= 5 deg and upper arms <= 7 deg on all 13 clips"
                                            " for every robot, walk jitter under ASAP's, 0 limit violations, no floor"
                                            " penetration."]),
        "",
    ]
    return "\n".join(lines)


def machine() -> str:
    import jax

    return (f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
            f"JAX {jax.__version__} on {jax.default_backend()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "retarget_generalisation.md")
    parser.add_argument("--seeds", default="0,1,2", help="noise seeds (comma-separated)")
    parser.add_argument("--bench", action="append", default=[], type=Path, metavar="JSON",
                        help="a `mimicjax bench retarget --json` output to quote (repeatable)")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: redraw the plots and rewrite the document from the saved results.json "
                             "(with the --bench files given now)")
    args = parser.parse_args()
    from mimicjax.human import load_human_motion
    from mimicjax.motion.noise import LEVELS

    figures = Path(args.out.with_suffix(""))
    if args.render_only:
        data = json.loads((figures / "results.json").read_text())
        data["bench"] = {path.stem: json.loads(path.read_text()) for path in args.bench}
        return write_outputs(data, figures, args.out)

    started = time.perf_counter()
    paths = real_clip_paths(args.reference)
    motions = [load_human_motion(p) for p in paths]
    names = [p.stem for p in paths]
    seeds = [int(s) for s in args.seeds.split(",")]
    data = {"date": datetime.date.today().isoformat(), "machine": machine(), "seeds": seeds, "clips": names,
            "before_config": dataclasses.asdict(BEFORE), "after_config": dataclasses.asdict(AFTER), "robots": {}}
    for robot in ROBOTS:
        runs = {"before": retarget(motions, names, robot, BEFORE), "after": retarget(motions, names, robot, AFTER)}
        data["robots"][robot] = {when: summary(results) for when, results in runs.items()}
        if robot == "g1_23dof":
            data["g1_23dof"] = {**data["robots"][robot], "per_clip_before": per_clip(runs["before"]),
                                "per_clip_after": per_clip(runs["after"])}
            data["asap_walk"] = asap_walk(args.reference, next(r for r in runs["after"] if r.name == WALK))
        print(f"{robot}: before {data['robots'][robot]['before']['limb_angle_mean_deg']:.2f} deg, "
              f"after {data['robots'][robot]['after']['limb_angle_mean_deg']:.2f} deg", flush=True)
    data["sweep"] = sweep(motions, names)
    data["noise"] = {label: noise_suite(motions, names, "g1_23dof", config, seeds, LEVELS)
                     for label, config in (("before", BEFORE), ("after", AFTER))}
    data["bench"] = {path.stem: json.loads(path.read_text()) for path in args.bench}
    data["seconds"] = time.perf_counter() - started
    return write_outputs(data, figures, args.out)


def write_outputs(data: dict, figures: Path, out: Path) -> int:
    from mimicjax.io_utils import atomic_write_text

    figures.mkdir(parents=True, exist_ok=True)
    plot_noise(data["noise"], figures / "noise.png")
    plot_sweep(data["sweep"], data["asap_walk"]["jitter_rad_s2"], AFTER, data["g1_23dof"]["before"], figures / "sweep.png")
    atomic_write_text(figures / "results.json", json.dumps(data, indent=1, default=float) + "\n")
    atomic_write_text(out, markdown(data))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
