"""Retargeting quality on a real video-derived walk, against ASAP's own retarget of the same clip.

    python experiments/retarget_quality.py [--reference ../shared/reference] [--out experiments/results/retarget_quality.md]

For each G1 limb (thigh, shin, upper arm, forearm; direction between consecutive joint bodies) the mean
angle to the human's matching limb (hip->knee, knee->ankle, shoulder->elbow, elbow->wrist) over all
frames, for mimicjax (23 and 29 DoF) and ASAP (23 DoF). Also keypoint error, joint-limit violations,
foot penetration (the G1's sole points below z = 0) and jitter. ASAP's clip is measured with the same
G1 model and the same human joints.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(reference: Path) -> dict:
    from mimicjax import robots
    from mimicjax.human import load_human_motion
    from mimicjax.motion.robot_files import load_robot_motion
    from mimicjax.retarget import metrics
    from mimicjax.retarget.correspondence import robot_geometry
    from mimicjax.retarget.pipeline import retarget_motions
    from mimicjax.retarget.solver import RetargetConfig, robot_constants, sole_heights

    human = load_human_motion(reference / "smpl" / "asap_video_walk_level1_filter_amass.npz")
    g1_23dof = robots.get("g1_23dof")
    asap = load_robot_motion(reference / "g1_motions" / "asap_g1_video_walk_level1_filter.pkl", robot=g1_23dof)
    rows = {}
    for name in ("g1_23dof", "g1_29dof"):
        result = retarget_motions([human], robots.get(name), names=["walk"])[0]
        rows[f"mimicjax {name}"] = {**result.report, "turn": result.targets.heading_turn}
        if name == "g1_23dof":
            targets = result.targets
    geometry = robot_geometry(g1_23dof)
    pos, quat = g1_23dof.body_poses(asap.root_pos, asap.root_quat, asap.joint_pos)
    soles = np.asarray(sole_heights(robot_constants(geometry, g1_23dof.tree, RetargetConfig()), pos, quat))
    limbs = metrics.clip_limb_angles_deg(asap, g1_23dof, targets.human_joints, heading_turn=targets.heading_turn)
    rows["ASAP g1_23dof"] = {
        "frames": asap.num_frames,
        "fps": asap.fps,
        "limb_angle_deg": limbs,
        "limb_angle_mean_deg": float(np.mean(list(limbs.values()))),
        "joint_limit_violations": metrics.joint_limit_violations(asap.joint_pos, geometry.joint_range),
        "foot_penetration_max_m": float(max(0.0, -soles.min())),
        "jitter_rad_s2": metrics.jitter(asap.joint_pos, asap.fps),
    }
    return rows


def markdown(rows: dict, command: str) -> str:
    limbs = list(next(iter(rows.values()))["limb_angle_deg"])
    names = list(rows)
    lines = [
        "# Retargeting quality: real video-derived walk, mimicjax vs ASAP",
        "",
        f"Date: {datetime.date.today().isoformat()}. Command: `{command}`",
        "",
        "Clip: `smpl/asap_video_walk_level1_filter_amass.npz` (SMPL from a real video, 152 frames at 30 fps) and",
        "ASAP's G1 23-DoF retarget of the same clip (`g1_motions/asap_g1_video_walk_level1_filter.pkl`), both",
        "from the shared reference data. Human joints: the project's skeleton-only SMPL (mean shape). Every",
        "G1 clip is measured with the project's G1 model. Limb angle: mean over frames of the angle between the",
        "G1 limb (hip-roll -> knee, knee -> ankle-roll, shoulder-roll -> elbow, elbow -> wrist-roll bodies) and",
        "the human limb (hip -> knee, knee -> ankle, shoulder -> elbow, elbow -> wrist). Lower is better.",
        "",
        "| limb angle (deg) | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for limb in limbs:
        lines.append(f"| {limb} | " + " | ".join(f"{rows[n]['limb_angle_deg'][limb]:.2f}" for n in names) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{rows[n]['limb_angle_mean_deg']:.2f}**" for n in names) + " |")
    lines += ["", "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key, fmt in (
        ("keypoint error mean (cm, vs re-proportioned goals)", "keypoint_error_mean_m", None),
        ("joint-limit violations (frame x joint)", "joint_limit_violations", "{}"),
        ("foot penetration, max (mm)", "foot_penetration_max_m", None),
        ("root raised by the final floor clamp, max (mm)", "floor_lift_max_m", None),
        ("jitter, mean abs joint accel (rad/s^2)", "jitter_rad_s2", "{:.2f}"),
    ):
        values = []
        for n in names:
            row = rows[n]
            if key not in row:
                values.append("n/a")
            elif key.endswith("_m"):
                values.append(f"{row[key] * (100 if 'keypoint' in key else 1000):.1f}")
            else:
                values.append(fmt.format(row[key]))
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines += ["", "Test: `tests/retarget/test_retarget.py::test_real_walk_limbs_follow_the_human_better_than_asap`.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "retarget_quality.md")
    args = parser.parse_args()
    from mimicjax.io_utils import atomic_write_text

    rows = measure(args.reference)
    atomic_write_text(args.out, markdown(rows, "python experiments/retarget_quality.py"))
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(rows, indent=2) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
