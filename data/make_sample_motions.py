"""Make the project's sample human motions: a walk, a wave and a squat as plain SMPL npz files.

    python data/make_sample_motions.py            # writes data/motions/{walk,wave,squat}.npz

The clips are designed by hand, not captured: every joint angle is a smooth periodic curve (a
sinusoidal gait, a waving forearm, a squat with feet kept flat). The pelvis translation is then chosen
with the skeleton-only SMPL forward kinematics so the motion looks physically plausible:

  * vertically, the lowest joint of each frame sits `JOINT_CLEARANCE` above the floor (z = 0), because
    joint centres are a few centimetres above the soles;
  * horizontally, the supporting foot (the lower one, blended smoothly at double support) stays where it
    is, so the feet do not skate.

Files are AMASS-style: `poses` (T, 72) axis-angle, `trans` (T, 3), `betas` (10 zeros: the mean shape),
`gender` "neutral", `mocap_framerate` 30; Z-up, facing +x.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mimicjax.human.formats import HumanMotion, save_amass_npz
from mimicjax.human.smpl import SMPL_JOINT_NAMES, BodyModel, forward_motion

FPS = 30.0
JOINT_CLEARANCE = 0.03  # metres from the floor to the lowest joint centre (the ankle/toe joints sit above the sole)
ARMS_DOWN = 70.0  # degrees the arms are lowered from the T-pose
OUT_DIR = Path(__file__).resolve().parent / "motions"
J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}

# The SMPL body frame: x to the person's left, y up, z forward. A negative turn about x swings a hanging
# limb forward (hip flexion), a positive one swings it back (knee flexion).


def rot(axis: str, degrees) -> Rotation:
    return Rotation.from_euler(axis, np.atleast_1d(degrees)[:, None], degrees=True)


def z_up_facing_x() -> Rotation:
    """SMPL's y-up body frame stood up along world +z and turned to face +x."""
    return Rotation.from_euler("z", 90, degrees=True) * Rotation.from_euler("x", 90, degrees=True)


class Pose:
    """Per-frame local joint rotations, built up joint by joint (identity where nothing is set)."""

    def __init__(self, num: int):
        self.num = num
        self.local = [Rotation.identity(num) for _ in range(24)]

    def set(self, joint: str, rotation: Rotation) -> None:
        self.local[J[joint]] = rotation

    def arms_down(self, left_forward=0.0, right_forward=0.0) -> None:
        """Arms hanging at the sides, swung forward by the given angles (degrees)."""
        self.set("left_shoulder", rot("x", -np.asarray(left_forward) + np.zeros(self.num)) * rot("z", np.full(self.num, -ARMS_DOWN)))
        self.set("right_shoulder", rot("x", -np.asarray(right_forward) + np.zeros(self.num)) * rot("z", np.full(self.num, ARMS_DOWN)))

    def motion(self, root: Rotation) -> HumanMotion:
        rotvecs = np.stack([r.as_rotvec() for r in self.local], axis=1)
        return HumanMotion(
            global_orient=(z_up_facing_x() * root).as_rotvec(),
            body_pose=rotvecs[:, 1:],
            transl=np.zeros((self.num, 3)),
            betas=np.zeros(10),
            fps=FPS,
            up_axis="z",
        )


def walk(seconds: float = 4.0, stride_period: float = 1.1) -> HumanMotion:
    t = np.arange(int(seconds * FPS)) / FPS
    phase = 2 * np.pi * t / stride_period
    pose = Pose(len(t))
    for side, shift in (("left", 0.0), ("right", np.pi)):
        swing = np.sin(phase + shift)  # +1: thigh fully forward
        hip = 25.0 * swing
        knee = 5.0 + 55.0 * np.clip(np.cos(phase + shift), 0.0, None) ** 1.5  # flexed in mid-swing
        pose.set(f"{side}_hip", rot("x", -hip))
        pose.set(f"{side}_knee", rot("x", knee))
        pose.set(f"{side}_ankle", rot("x", 0.5 * (hip - knee)))  # keeps the foot roughly level
    pose.arms_down(left_forward=20.0 * np.sin(phase + np.pi), right_forward=20.0 * np.sin(phase))
    pose.set("left_elbow", rot("y", -(15.0 + 10.0 * np.sin(phase + np.pi))))
    pose.set("right_elbow", rot("y", 15.0 + 10.0 * np.sin(phase)))
    pose.set("spine1", rot("y", -4.0 * np.sin(phase)))  # the chest counter-rotates the pelvis
    root = rot("y", 5.0 * np.sin(phase)) * rot("z", 3.0 * np.sin(phase))
    return pose.motion(root)


def wave(seconds: float = 3.0, waves_per_second: float = 2.0) -> HumanMotion:
    t = np.arange(int(seconds * FPS)) / FPS
    raise_arm = np.clip(t / 0.6, 0.0, 1.0)  # lift the arm during the first 0.6 s
    raise_arm = raise_arm * raise_arm * (3 - 2 * raise_arm)
    pose = Pose(len(t))
    pose.arms_down()
    # Right upper arm from hanging (+70) to 40 degrees above horizontal (-40); forearm up and waving.
    pose.set("right_shoulder", rot("z", ARMS_DOWN - (ARMS_DOWN + 40.0) * raise_arm))
    pose.set("right_elbow", rot("z", -50.0 * raise_arm + 25.0 * raise_arm * np.sin(2 * np.pi * waves_per_second * t)))
    pose.set("left_elbow", rot("y", np.full(len(t), -10.0)))
    pose.set("spine2", rot("z", 3.0 * raise_arm))  # lean slightly away from the raised arm
    pose.set("head", rot("y", -10.0 * raise_arm))
    return pose.motion(rot("z", np.zeros(len(t))))


def squat(seconds: float = 4.0, period: float = 2.0) -> HumanMotion:
    t = np.arange(int(seconds * FPS)) / FPS
    depth = 0.5 * (1.0 - np.cos(2 * np.pi * t / period))  # 0 standing, 1 deepest
    pelvis_tilt, thigh, shank = 15.0 * depth, 95.0 * depth, 25.0 * depth
    pose = Pose(len(t))
    for side in ("left", "right"):
        pose.set(f"{side}_hip", rot("x", -(thigh + pelvis_tilt)))
        pose.set(f"{side}_knee", rot("x", thigh + shank))
        pose.set(f"{side}_ankle", rot("x", -shank))  # the foot stays flat on the floor
    pose.set("spine1", rot("x", 15.0 * depth))
    pose.set("neck", rot("x", -20.0 * depth))  # keep looking ahead
    pose.arms_down(left_forward=85.0 * depth, right_forward=85.0 * depth)  # arms forward for balance
    return pose.motion(rot("x", pelvis_tilt))


def place_on_floor(motion: HumanMotion) -> HumanMotion:
    """Choose `transl` so the lowest joint touches the floor and the supporting foot does not slide."""
    joints = forward_motion(BodyModel.skeleton_only(), motion)["joints"].astype(np.float64)
    feet = joints[:, [J["left_foot"], J["right_foot"]]]
    # Weight of each foot as the support: the lower one, blended over a centimetre at double support.
    gap = feet[:, 1, 2] - feet[:, 0, 2]
    left_weight = 1.0 / (1.0 + np.exp(-gap / 0.01))
    step = np.diff(feet[..., :2], axis=0)
    support_step = left_weight[1:, None] * step[:, 0] + (1.0 - left_weight[1:, None]) * step[:, 1]
    horizontal = -np.concatenate([np.zeros((1, 2)), np.cumsum(support_step, axis=0)])
    vertical = JOINT_CLEARANCE - joints[..., 2].min(axis=1)
    transl = np.concatenate([horizontal, vertical[:, None]], axis=1)
    return motion.replace(transl=transl)


SAMPLES = {"walk": walk, "wave": wave, "squat": squat}


def make_all(out_dir: Path = OUT_DIR) -> dict[str, Path]:
    paths = {}
    for name, make in SAMPLES.items():
        path = Path(out_dir) / f"{name}.npz"
        save_amass_npz(place_on_floor(make()), path)
        paths[name] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    for name, path in make_all(args.out_dir).items():
        print(f"{name}: {path} ({path.stat().st_size / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
