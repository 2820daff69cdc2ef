"""Make the project's sample human motions as plain SMPL npz files: everyday movements for the G1 to track.

    python data/make_sample_motions.py            # writes data/motions/{walk,wave,squat,side_step,turn,bow}.npz

| clip        | seconds | what it does                                                                        |
|-------------|---------|-------------------------------------------------------------------------------------|
| `walk`      | 6.0     | stands, walks 2 m forward (the pelvis eases up to 0.55 m/s; 1 s strides), stops      |
| `wave`      | 3.0     | raises the right arm and waves                                                       |
| `squat`     | 4.0     | two squats, feet flat                                                                |
| `side_step` | 7.2     | six steps to the left (0.45 m, the left foot opens, the right closes), six back      |
| `turn`      | 7.2     | turns 90 degrees to the left on the spot in six steps, pauses, turns back            |
| `bow`       | 5.0     | bows (hips back, trunk 45 degrees forward, arms reaching forward), comes back up     |

The clips are designed by hand, not captured. Each starts and ends standing still and moves smoothly (the
curves ease in and out; nothing jumps in velocity). Two kinds:

  * On-the-spot clips (wave, squat, bow) are smooth joint-angle curves; the pelvis translation is then chosen
    with the skeleton-only SMPL forward kinematics so the supporting foot (the lower one, blended smoothly
    when both are down) does not slide.
  * Stepping clips (walk, side_step, turn) are planned the other way round. A smooth pelvis path comes first
    (position and heading: steady speed between smooth ramps, no surges), then a footstep plan whose
    footholds sit under the hips at mid-stance, so step length = pelvis speed x stride period all along;
    swing feet lift before they move and land softly, and the pelvis sways a little over the stance foot.
    Hip, knee and ankle rotations follow by leg inverse kinematics (feet flat, knees pointing where the
    foot points), so planted feet stay exactly where they are. (The walk used to be a sinusoidal gait
    with the lower foot pinned; its pelvis surged back and forth at up to 2.9 m/s whenever the lower foot
    switched, and a G1 replaying it on PD targets lost track after 0.22 s.)

Standing, the clips other than the wave have the ankles under the hip joints (`STAND_LEAN`) rather than 5 cm
behind them as in the SMPL rest pose: a G1 replaying the retargeted reference on PD targets alone, with no
balance feedback, topples forward from that rest pose after about a second, and later with the ankles under
the hips (tests/motion/test_sample_motions_trackable.py).

Vertically, the lowest joint of each frame sits `JOINT_CLEARANCE` above the floor (z = 0), because joint
centres are a few centimetres above the soles.

Files are AMASS-style: `poses` (T, 72) axis-angle, `trans` (T, 3), `betas` (10 zeros: the mean shape),
`gender` "neutral", `mocap_framerate` 30; Z-up, facing +x, starting with zero horizontal translation.
The G1 libraries data/motions/g1_{23,29}dof_samples.npz are retargeted from these six files, with the
retargeting settings of their time (the shipped policies were trained on them; since 2026-12-03 the defaults
are 200 steps with a stronger, ramped smoothness term, which these commands undo to remake the files exactly):

    OLD="--steps 150 --set smoothness=2e-7 --set smoothness_ramp=0,0"
    mimicjax retarget data/motions/{walk,wave,squat,side_step,turn,bow}.npz --robot g1_23dof $OLD --out data/motions/g1_23dof_samples.npz
    mimicjax retarget data/motions/{walk,wave,squat,side_step,turn,bow}.npz --robot g1_29dof $OLD --out data/motions/g1_29dof_samples.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from mimicjax.human.formats import HumanMotion, save_amass_npz
from mimicjax.human.smpl import SMPL_JOINT_NAMES, BodyModel, forward_motion, neutral_rest_joints

FPS = 30.0
JOINT_CLEARANCE = 0.03  # metres from the floor to the lowest joint centre (the ankle/toe joints sit above the sole)
ARMS_DOWN = 70.0  # degrees the arms are lowered from the T-pose
OUT_DIR = Path(__file__).resolve().parent / "motions"
J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
REST = neutral_rest_joints()  # (24, 3) rest joint positions in the SMPL body frame
# Degrees a straight leg leans forward to put the ankle under the hip joint: in the SMPL rest pose the
# ankles are 5 cm behind the hips, which leaves a G1 standing on PD targets alone toppling forward sooner.
_HIP_OVER_ANKLE = REST[J["left_hip"]] - REST[J["left_ankle"]]
STAND_LEAN = float(np.degrees(np.arctan2(_HIP_OVER_ANKLE[2], _HIP_OVER_ANKLE[1])))  # 3.6 degrees

# The SMPL body frame: x to the person's left, y up, z forward. A negative turn about x swings a hanging
# limb forward (hip flexion), a positive one swings it back (knee flexion); a positive turn about y turns
# the body to its left. The stepping clips are planned in a world with these same axes (the "plan
# frame"); `z_up_facing_x` turns it into the file's Z-up world facing +x.


def rot(axis: str, degrees) -> Rotation:
    return Rotation.from_euler(axis, np.atleast_1d(degrees)[:, None], degrees=True)


def z_up_facing_x() -> Rotation:
    """SMPL's y-up body frame stood up along world +z and turned to face +x."""
    return Rotation.from_euler("z", 90, degrees=True) * Rotation.from_euler("x", 90, degrees=True)


def frame_times(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * FPS))) / FPS


def smootherstep(x):
    """0 -> 1 on [0, 1] with zero first and second derivatives at both ends (clamped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (10.0 + x * (6.0 * x - 15.0))


def ease(t, start: float, end: float):
    """0 before `start`, 1 after `end`, a smootherstep between."""
    return smootherstep((np.asarray(t, np.float64) - start) / (end - start))


def glide(t, start: float, end: float, ramp: float):
    """0 -> 1 between `start` and `end` at a constant rate, the rate eased in and out over `ramp` seconds.

    The derivative is a smootherstep up, a plateau, a smootherstep down: a move at steady speed with smooth
    acceleration and deceleration (C2, no jerks at the ends of the ramps).
    """
    def area(x):  # integral of smootherstep from 0 to x, continued at slope 1 past x = 1
        x = np.clip(x, 0.0, None)
        inside = np.minimum(x, 1.0)
        return inside**6 - 3.0 * inside**5 + 2.5 * inside**4 + np.maximum(x - 1.0, 0.0)

    t = np.asarray(t, np.float64)
    return ramp * (area((t - start) / ramp) - area((t - end + ramp) / ramp)) / (end - start - ramp)


def yaw(radians) -> Rotation:
    """Turns about the plan frame's vertical (SMPL y) axis; positive turns left."""
    return Rotation.from_rotvec(np.atleast_1d(radians)[:, None] * np.array([0.0, 1.0, 0.0]))


def continuous_rotvec(rotation: Rotation) -> np.ndarray:
    """(T, 3) axis-angle vectors without the jump of 2 pi where a turn passes 180 degrees (the same
    rotations, continuous in time, so that linear interpolation of the vectors stays sensible)."""
    rotvec = rotation.as_rotvec()
    for i in range(1, len(rotvec)):
        angle = np.linalg.norm(rotvec[i])
        if angle > 1e-9:
            unit = rotvec[i] / angle
            options = rotvec[i] + 2.0 * np.pi * np.outer([-1.0, 0.0, 1.0], unit)
            rotvec[i] = options[np.argmin(np.linalg.norm(options - rotvec[i - 1], axis=1))]
    return rotvec


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

    def motion(self, root: Rotation, transl=None) -> HumanMotion:
        rotvecs = np.stack([continuous_rotvec(r) for r in self.local], axis=1)
        return HumanMotion(
            global_orient=continuous_rotvec(z_up_facing_x() * root),
            body_pose=rotvecs[:, 1:],
            transl=np.zeros((self.num, 3)) if transl is None else transl,
            betas=np.zeros(10),
            fps=FPS,
            up_axis="z",
        )


# ---------------------------------------------------------------- on-the-spot clips (joint-angle curves)


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
        pose.set(f"{side}_hip", rot("x", -(STAND_LEAN + thigh + pelvis_tilt)))  # standing: ankles under the hips
        pose.set(f"{side}_knee", rot("x", thigh + shank))
        pose.set(f"{side}_ankle", rot("x", STAND_LEAN - shank))  # the foot stays flat on the floor
    pose.set("spine1", rot("x", 15.0 * depth))
    pose.set("neck", rot("x", -20.0 * depth))  # keep looking ahead
    pose.arms_down(left_forward=85.0 * depth, right_forward=85.0 * depth)  # arms forward for balance
    return pose.motion(rot("x", pelvis_tilt))


def bow(seconds: float = 5.0) -> HumanMotion:
    """Stand, bow over 1.5 s (a hip hinge: hips back, knees soft, trunk 45 degrees forward, arms reaching
    forward and down), hold 1 s, come back up over 1.5 s, stand."""
    t = frame_times(seconds)
    depth = ease(t, 0.5, 2.0) - ease(t, 3.0, 4.5)  # 0 standing, 1 bowed
    pelvis_tilt, thigh, shank = 30.0 * depth, 20.0 * depth, 6.0 * depth
    pose = Pose(len(t))
    for side in ("left", "right"):
        # Standing, the straight leg leans forward by `STAND_LEAN` so the ankle is under the hip. Bowing,
        # the thigh leans forward by `thigh` more (the hips go back behind the knees) and the shank back by
        # `shank` (the knees over the toes); the foot stays flat on the floor.
        pose.set(f"{side}_hip", rot("x", -(STAND_LEAN + thigh + pelvis_tilt)))
        pose.set(f"{side}_knee", rot("x", thigh + shank))
        pose.set(f"{side}_ankle", rot("x", STAND_LEAN - shank))
    for joint, bend in (("spine1", 6.0), ("spine2", 5.0), ("spine3", 4.0)):  # the trunk: 45 degrees in all
        pose.set(joint, rot("x", bend * depth))
    pose.set("neck", rot("x", -10.0 * depth))
    pose.set("head", rot("x", -10.0 * depth))  # looks down less than the trunk does
    reach = 45.0 * depth  # arms forward of the trunk, relaxed elbows
    pose.arms_down(left_forward=reach, right_forward=reach)
    pose.set("left_elbow", rot("y", -15.0 * depth))
    pose.set("right_elbow", rot("y", 15.0 * depth))
    return pose.motion(rot("x", pelvis_tilt))


# ----------------------------------------------------------- stepping clips (pelvis path, then the feet)


class Step(NamedTuple):
    """One step of one foot: it lifts at `lift`, lands at `land`, on the foothold the pelvis path puts under
    that hip at time `place` (mid-stance, or when the pelvis path stops)."""

    foot: str  # "left" | "right"
    lift: float
    land: float
    place: float


def alternate(first: str, begin: float, end: float, stride_period: float, swing_fraction: float = 0.4) -> list[Step]:
    """Steps alternating feet (starting with `first`) every half stride from `begin`, each in the air for
    `swing_fraction` of a stride, as many as land by `end` (when the pelvis path stops). Each foothold is
    placed for the middle of the following stance; the last step of each foot is placed where the path
    stops, so the clip ends standing."""
    swing, half = swing_fraction * stride_period, 0.5 * stride_period
    lifts = begin + half * np.arange(int(np.floor((end - swing - begin) / half + 1e-6)) + 1)
    other = {"left": "right", "right": "left"}
    feet = [first if i % 2 == 0 else other[first] for i in range(len(lifts))]
    steps = []
    for i, (foot, lift) in enumerate(zip(feet, lifts)):
        last = foot not in feet[i + 1:]
        place = end if last else min(lift + swing + 0.5 * (stride_period - swing), end)
        steps.append(Step(foot, float(lift), float(lift + swing), float(place)))
    return steps


class PelvisPath(NamedTuple):
    """The pelvis path of a stepping clip in the plan frame: horizontal position (x left, z forward) and
    heading, as functions of time, plus the half stance width (lateral ankle offset from the pelvis)."""

    position: Callable  # t (N,) -> (N, 2) [x, z] displacement of the pelvis from its start
    heading: Callable  # t (N,) -> (N,) yaw, radians, positive to the left
    half_width: Callable | None = None  # t (N,) -> (N,) lateral ankle offset from the pelvis (default: standing)

    def foothold(self, side: str, times):
        """Plan-frame ankle position (x, z) and foot yaw of `side` standing under its hip at `times`.

        The ankle is straight below the hip joint front to back (in the SMPL rest pose it is 5 cm behind it,
        which leaves a robot's centre of mass well ahead of its ankles), at the rest or `half_width` stance.
        """
        times = np.atleast_1d(np.asarray(times, np.float64))
        rest = REST[J[f"{side}_ankle"]] - REST[J["pelvis"]]
        lateral = np.full(times.shape, rest[0]) if self.half_width is None else np.sign(rest[0]) * self.half_width(times)
        forward = np.full(times.shape, REST[J[f"{side}_hip"], 2] - REST[J["pelvis"], 2])
        offset = np.stack([lateral, np.zeros_like(lateral), forward], axis=1)
        heading = self.heading(times)
        ankle = yaw(heading).apply(offset)[:, [0, 2]] + self.position(times)
        return ankle, heading


def foot_track(path: PelvisPath, steps: list[Step], side: str, t: np.ndarray, lift_height: float):
    """Per-frame plan-frame ankle position (x, height above its standing height, z) and yaw of one foot."""
    xz, heading = path.foothold(side, [0.0])
    xz, heading = np.repeat(xz, len(t), axis=0), np.repeat(heading, len(t))
    height = np.zeros(len(t))
    for step in sorted((s for s in steps if s.foot == side), key=lambda s: s.lift):
        to_xz, to_heading = path.foothold(side, [step.place])
        u = (t - step.lift) / (step.land - step.lift)
        x = np.clip((u - 0.1) / 0.8, 0.0, 1.0)  # the foot is clear of the floor before it moves on
        s = x * x * (3.0 - 2.0 * x)
        moving = t >= step.lift
        xz[moving] = xz[moving] + s[moving, None] * (to_xz - xz[moving])
        heading[moving] = heading[moving] + s[moving] * (to_heading - heading[moving])
        air = (u > 0.0) & (u < 1.0)
        height[air] = lift_height * 16.0 * (u[air] * (1.0 - u[air])) ** 2
    return np.stack([xz[:, 0], height, xz[:, 1]], axis=1), heading


def sway(path: PelvisPath, steps: list[Step], t: np.ndarray, amplitude: float, period: float) -> np.ndarray:
    """Plan-frame (x, z) shift of the pelvis toward the stance foot: a smooth bump per step, centred on the
    middle of the swing; overlapping bumps of alternating sides sum to a sinusoid while stepping steadily."""
    shift = np.zeros((len(t), 2))
    for step in steps:
        middle = 0.5 * (step.lift + step.land)
        toward = -1.0 if step.foot == "left" else 1.0  # toward the other (the stance) foot; +x is left
        u = np.clip((t - middle) / period, -0.5, 0.5)
        side = yaw(path.heading(np.array([middle]))).apply([1.0, 0.0, 0.0])[0, [0, 2]]
        shift += toward * amplitude * np.cos(np.pi * u)[:, None] ** 2 * side
    return shift


def leg_ik(side: str, root: Rotation, hip: np.ndarray, ankle: np.ndarray, foot_heading: np.ndarray):
    """Hip, knee and ankle rotations that put the `side` ankle at `ankle` (plan frame) from a hip at `hip`,
    the knee bending in the plane the foot points in and the foot flat, turned to `foot_heading`.

    Returns the three local rotations and the reach (cosine of the knee solve; above 1: out of reach).
    """
    hip_rest, knee_rest, ankle_rest = (REST[J[f"{side}_{name}"]] for name in ("hip", "knee", "ankle"))
    thigh, shank = knee_rest - hip_rest, ankle_rest - knee_rest
    target = root.inv().apply(ankle - hip)  # in the pelvis frame
    distance = np.linalg.norm(target, axis=1)
    # |thigh + R_x(knee) shank|^2 = |thigh|^2 + |shank|^2 + 2 (c0 + C cos(knee - phi)); flexion is knee > phi.
    a = thigh[1] * shank[1] + thigh[2] * shank[2]
    b = thigh[2] * shank[1] - thigh[1] * shank[2]
    c0, c, phi = thigh[0] * shank[0], np.hypot(a, b), np.arctan2(b, a)
    reach = (0.5 * (distance**2 - thigh @ thigh - shank @ shank) - c0) / c
    knee = Rotation.from_rotvec((phi + np.arccos(np.clip(reach, -1.0, 1.0)))[:, None] * np.array([1.0, 0.0, 0.0]))
    # Swing the bent leg onto the target, then twist it about the hip-ankle line to aim the knee.
    leg = thigh + knee.apply(shank)
    leg /= np.linalg.norm(leg, axis=1, keepdims=True)
    aim = target / distance[:, None]
    axis = np.cross(leg, aim)
    angle = np.arctan2(np.linalg.norm(axis, axis=1), np.sum(leg * aim, axis=1))
    axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
    swing = Rotation.from_rotvec(axis * angle[:, None])
    want = (root.inv() * yaw(foot_heading)).apply([1.0, 0.0, 0.0])  # the knee hinge axis, foot-lateral
    have = swing.apply(np.tile([1.0, 0.0, 0.0], (len(aim), 1)))
    want -= np.sum(want * aim, axis=1, keepdims=True) * aim
    have -= np.sum(have * aim, axis=1, keepdims=True) * aim
    twist = np.arctan2(np.sum(aim * np.cross(have, want), axis=1), np.sum(have * want, axis=1))
    hip_rotation = Rotation.from_rotvec(aim * twist[:, None]) * swing
    ankle_rotation = (root * hip_rotation * knee).inv() * yaw(foot_heading)
    return hip_rotation, knee, ankle_rotation, reach


def stepping_motion(t, path: PelvisPath, steps: list[Step], pose: Pose, *, crouch, sway_amplitude: float = 0.0,
                    stride_period: float = 1.0, lift_height: float = 0.06) -> HumanMotion:
    """Legs of `pose` set by inverse kinematics to follow `steps` while the pelvis follows `path` (lowered
    by `crouch` metres, shifted by the sway); `transl` set to match (its height is set by `place_on_floor`)."""
    heading = path.heading(t)
    root = yaw(heading)
    pelvis = REST[J["pelvis"]] + np.zeros((len(t), 3))
    pelvis[:, [0, 2]] += path.position(t) + sway(path, steps, t, sway_amplitude, stride_period)
    pelvis[:, 1] -= crouch
    for side in ("left", "right"):
        ankle, foot_heading = foot_track(path, steps, side, t, lift_height)
        ankle[:, 1] += REST[J[f"{side}_ankle"], 1]
        hip = pelvis + root.apply(REST[J[f"{side}_hip"]] - REST[J["pelvis"]])
        hip_rotation, knee, ankle_rotation, reach = leg_ik(side, root, hip, ankle, foot_heading)
        if reach.max() > 0.999:
            raise ValueError(f"the {side} foot is out of reach ({reach.max():.4f}); crouch more or step shorter")
        pose.set(f"{side}_hip", hip_rotation)
        pose.set(f"{side}_knee", knee)
        pose.set(f"{side}_ankle", ankle_rotation)
    # The plan frame is the file's world turned by `z_up_facing_x`; the pelvis is at rest pelvis + transl.
    transl = z_up_facing_x().apply(pelvis) - REST[J["pelvis"]]
    transl[:, :2] -= transl[0, :2]
    transl[:, 2] = 0.0
    return pose.motion(root, transl)


def moving_envelope(t, *moves, ease_time: float = 0.5):
    """1 while any of the (start, end) moves is under way, easing in and out over `ease_time` seconds."""
    return sum(ease(t, a, a + ease_time) - ease(t, b - ease_time, b) for a, b in moves)


def walk(seconds: float = 6.0, speed: float = 0.55, stride_period: float = 1.0) -> HumanMotion:
    """Stand 0.5 s, ease up to `speed` over 1.2 s, walk, ease to a stop 0.6 s before the end, stand.

    Stride length (a full cycle of one foot) = `speed` x `stride_period` (0.55 m); each foot is in the air for
    40% of a stride.
    """
    t = frame_times(seconds)
    start, stop, ramp = 0.5, seconds - 0.6, 1.2
    distance = speed * (stop - start - ramp)
    path = PelvisPath(position=lambda s: np.stack([np.zeros_like(s), distance * glide(s, start, stop, ramp)], axis=1),
                      heading=np.zeros_like)
    steps = alternate("right", start, stop, stride_period)
    moving = moving_envelope(t, (start - 0.3, stop + 0.3), ease_time=0.6)
    pose = Pose(len(t))
    # Arms swing against the legs: each arm forward as far as the opposite foot is (about +-15 degrees).
    ankles = {side: foot_track(path, steps, side, t, 0.0)[0][:, 2] - path.position(t)[:, 1] for side in ("left", "right")}
    pose.arms_down(left_forward=90.0 * (ankles["right"] - ankles["right"][0]),
                   right_forward=90.0 * (ankles["left"] - ankles["left"][0]))
    pose.set("left_elbow", rot("y", -(5.0 + 15.0 * moving)))
    pose.set("right_elbow", rot("y", 5.0 + 15.0 * moving))
    return stepping_motion(t, path, steps, pose, crouch=0.01 + 0.03 * moving, sway_amplitude=0.02,
                           stride_period=stride_period)


def side_step(seconds: float = 7.2, distance: float = 0.45, stride_period: float = 1.0) -> HumanMotion:
    """Six steps to the left (the left foot opens, the right foot closes), a pause, six steps back.

    The pelvis glides sideways at a steady 0.2 m/s between smooth ramps; the feet open to a slightly wider
    stance while moving so the closing foot stays clear of the other (ankles at least 16 cm apart).
    """
    t = frame_times(seconds)
    out, back = (0.4, 3.3), (3.8, 6.7)

    def position(s):
        lateral = distance * (glide(s, *out, 0.6) - glide(s, *back, 0.6))
        return np.stack([lateral, np.zeros_like(lateral)], axis=1)

    standing = REST[J["left_ankle"], 0] - REST[J["pelvis"], 0]
    path = PelvisPath(position, np.zeros_like, lambda s: standing + 0.04 * moving_envelope(s, out, back, ease_time=0.6))
    steps = alternate("left", *out, stride_period) + alternate("right", *back, stride_period)
    pose = Pose(len(t))
    pose.arms_down()
    pose.set("left_elbow", rot("y", np.full(len(t), -10.0)))
    pose.set("right_elbow", rot("y", np.full(len(t), 10.0)))
    return stepping_motion(t, path, steps, pose, crouch=0.01 + 0.02 * moving_envelope(t, out, back), stride_period=stride_period)


def turn(seconds: float = 7.2, angle: float = 90.0, stride_period: float = 1.0) -> HumanMotion:
    """Turn `angle` degrees to the left on the spot in six steps (left foot first), pause, six steps back."""
    t = frame_times(seconds)
    left, right = (0.4, 3.3), (3.8, 6.7)
    radians = np.radians(angle)
    path = PelvisPath(position=lambda s: np.zeros((len(np.atleast_1d(s)), 2)),
                      heading=lambda s: radians * (glide(s, *left, 0.8) - glide(s, *right, 0.8)))
    steps = alternate("left", *left, stride_period) + alternate("right", *right, stride_period)
    pose = Pose(len(t))
    pose.arms_down()
    pose.set("left_elbow", rot("y", np.full(len(t), -10.0)))
    pose.set("right_elbow", rot("y", np.full(len(t), 10.0)))
    return stepping_motion(t, path, steps, pose, crouch=0.01 + 0.02 * moving_envelope(t, left, right),
                           sway_amplitude=0.015, stride_period=stride_period, lift_height=0.04)


# ---------------------------------------------------------------------------------------- floor


def place_on_floor(motion: HumanMotion, pin_support_foot: bool = True) -> HumanMotion:
    """Set `transl` so the lowest joint touches the floor and, with `pin_support_foot`, choose its horizontal
    part so the supporting foot does not slide (the on-the-spot clips; the stepping clips bring their own)."""
    joints = forward_motion(BodyModel.skeleton_only(), motion)["joints"].astype(np.float64)
    if pin_support_foot:
        feet = joints[:, [J["left_foot"], J["right_foot"]]]
        # Weight of each foot as the support: the lower one, blended over a centimetre at double support.
        gap = feet[:, 1, 2] - feet[:, 0, 2]
        left_weight = 1.0 / (1.0 + np.exp(-gap / 0.01))
        step = np.diff(feet[..., :2], axis=0)
        support_step = left_weight[1:, None] * step[:, 0] + (1.0 - left_weight[1:, None]) * step[:, 1]
        horizontal = -np.concatenate([np.zeros((1, 2)), np.cumsum(support_step, axis=0)])
    else:
        horizontal = motion.transl[:, :2]
    vertical = motion.transl[:, 2] + JOINT_CLEARANCE - joints[..., 2].min(axis=1)
    transl = np.concatenate([horizontal, vertical[:, None]], axis=1)
    return motion.replace(transl=transl)


# The first three keep their indices in the shipped libraries (tests and examples refer to clip 1, the wave).
SAMPLES = {"walk": walk, "wave": wave, "squat": squat, "side_step": side_step, "turn": turn, "bow": bow}
STEPPING = ("walk", "side_step", "turn")


def make(name: str) -> HumanMotion:
    return place_on_floor(SAMPLES[name](), pin_support_foot=name not in STEPPING)


def make_all(out_dir: Path = OUT_DIR) -> dict[str, Path]:
    paths = {}
    for name in SAMPLES:
        path = Path(out_dir) / f"{name}.npz"
        save_amass_npz(make(name), path)
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
