"""Small synthetic G1 clips for env tests: the stand pose with smooth, asymmetric joint and root motion."""

from __future__ import annotations

import numpy as np

from mimicjax import robots


def synthetic_motion(variant: str = "29dof", seconds: float = 3.0, fps: float = 50.0, phase: float = 0.0, name: str = "synthetic"):
    """A clip that starts at the stand pose and sways the arms, waist and legs a little while turning."""
    from mimicjax.motion.robot_files import RobotMotion

    spec = robots.get(f"g1_{variant}")
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    n = spec.num_joints
    amplitude = np.zeros(n)
    for i, joint in enumerate(spec.joint_names):
        if "shoulder" in joint or "elbow" in joint or "wrist" in joint:
            amplitude[i] = 0.35 if joint.startswith("left") else 0.15
        elif "waist" in joint:
            amplitude[i] = 0.1
        elif "hip_pitch" in joint or "knee" in joint:
            amplitude[i] = 0.05
    frequency = 0.5 + 0.05 * np.arange(n)
    wave = np.sin(2 * np.pi * frequency[None] * t[:, None] + phase + 0.3 * np.arange(n)[None]) - np.sin(phase + 0.3 * np.arange(n))[None]
    joint_pos = spec.default_pose[None] + amplitude[None] * wave
    yaw = 0.3 * np.sin(0.5 * t + phase) + 0.2
    root_quat = np.stack([np.cos(yaw / 2), np.zeros_like(t), np.zeros_like(t), np.sin(yaw / 2)], axis=1)
    root_pos = np.stack([0.1 * t, 0.05 * np.sin(t), np.full_like(t, spec.default_root_height)], axis=1)
    return RobotMotion(fps=fps, root_pos=root_pos, root_quat=root_quat, joint_pos=joint_pos, joint_names=spec.joint_names, source=name)


def synthetic_library(variant: str = "29dof", mirror: bool = True):
    """Two clips (3 s and 2 s) and, with `mirror`, their mirrored copies (clips 2 and 3)."""
    from mimicjax.motion.library import build_library

    motions = [synthetic_motion(variant, 3.0, phase=0.0), synthetic_motion(variant, 2.0, phase=1.0)]
    return build_library(motions, robots.get(f"g1_{variant}"), names=["sway", "sway_b"], mirror=mirror)
