"""The table-top scene of the H2Rep robot-video dataset and its scripted episodes.

A simple five-joint arm with a parallel gripper (or a human forearm and hand as a stand-in) reaches,
pushes or picks one of two or three objects on a table. Everything is kinematic: the arm follows
minimum-jerk gripper waypoints through damped-least-squares IK (`mj_kinematics` + `mj_jacSite`), and the
object being pushed or carried is moved with the gripper by setting its pose each frame, so an episode
is fully determined by its seed and needs no physics. The MJCF is written here as a string so the
dataset depends on nothing outside this file.

World frame: z up, table top at z = 0, arm base at the origin, objects in front of it (+x); the camera
looks back at the arm from the front and above.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from mimicjax.translate.h2rep.camera import Camera

TASKS = ("reach", "push", "pick")
EMBODIMENTS = ("robot", "human")

TABLE_HALF = (0.6, 0.65, 0.375)  # table box half-sizes; its top is the plane z = 0
TABLE_CENTRE = (0.35, 0.0, -0.375)
FLOOR_Z = -0.75

# Arm dimensions (metres): joint heights along each link's local z.
BASE_HEIGHT, SHOULDER_LINK, UPPER_ARM, FOREARM, WRIST_LINK = 0.06, 0.14, 0.36, 0.32, 0.07
GRIPPER_SITE = 0.09  # hand origin -> point between the fingertips
FINGER_TRAVEL = 0.045  # per finger: the opening (gap between the finger pads) is 2 * travel
MAX_OPENING = 2 * FINGER_TRAVEL
ARM_JOINTS = ("shoulder_yaw", "shoulder_pitch", "elbow", "wrist_pitch", "wrist_roll")
FINGER_JOINTS = ("finger_left", "finger_right")

# Workspace of the objects: distance from the arm base and bearing (radians, 0 = +x).
OBJECT_RADIUS = (0.34, 0.50)
OBJECT_BEARING = (-0.8, 0.8)
HOVER = 0.13  # gripper height above an object's top before descending

COLOURS = {  # rgba, none close to the table (slate), the floor (warm grey), the arm or skin
    "red": (0.85, 0.16, 0.14, 1),
    "green": (0.18, 0.66, 0.26, 1),
    "yellow": (0.93, 0.80, 0.15, 1),
    "purple": (0.55, 0.25, 0.70, 1),
    "orange": (0.95, 0.50, 0.10, 1),
}
TABLE_RGBA = (0.40, 0.46, 0.55, 1)
FLOOR_RGBA = (0.62, 0.60, 0.56, 1)
ARM_RGBA = (0.86, 0.87, 0.88, 1)
ARM_DARK_RGBA = (0.22, 0.23, 0.26, 1)
SKIN_RGBA = (0.87, 0.68, 0.56, 1)
SLEEVE_RGBA = (0.20, 0.30, 0.52, 1)
CHECKER = {"floor": (0.25, 0.35), "table": (0.10, 0.07)}  # geom: (square size m, contrast)
# An optional marker colour for the gripper (palm and fingers), so that evaluation can find the gripper in
# a video by colour: cyan is far from every object colour, the table, the floor, the arm and the cue.
GRIPPER_GEOMS = ("palm", "finger_left", "finger_right")
GRIPPER_COLOURS = {"cyan": (0.05, 0.80, 0.85)}

# Human stand-in (a right hand). Hand frame: origin at the wrist, z towards the fingers, x towards the
# thumb side, palm facing -y. Fingers: knuckle (x, z), segment lengths, radius.
FINGERS = {
    "index": ((0.026, 0.088), (0.040, 0.025, 0.020), 0.0085),
    "middle": ((0.0085, 0.091), (0.045, 0.028, 0.022), 0.0088),
    "ring": ((-0.009, 0.087), (0.042, 0.026, 0.020), 0.0083),
    "little": ((-0.026, 0.079), (0.033, 0.020, 0.018), 0.0075),
}
FINGER_CURL = (1.0, 1.25, 0.8)  # knuckle, middle, last joint angle at full curl (rad)
THUMB_BASE = (0.024, -0.012, 0.014)
THUMB_LENGTHS, THUMB_RADII = (0.045, 0.033, 0.027), (0.012, 0.0098, 0.009)
THUMB_CURL = (0.55, 0.55, 0.6)
HAND_TILT = np.radians(25.0)  # approach axis from straight down towards the reach direction
# Wrist -> elbow in the hand frame: bent palm-wards (-y) and to the little-finger side (-x), chosen so
# that with the hand posed by `hand_rotation` the forearm comes from behind the arm base and above.
FOREARM_DIRECTION = np.array([-0.35, -0.6, -0.7]) / np.linalg.norm([-0.35, -0.6, -0.7])
HUMAN_MIN_CURL = 0.08  # relaxed, slightly bent fingers
KEYPOINT_SITES = tuple(f"kp_{i:02d}" for i in range(21))


# ---- layout and plan (plain data) -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SceneObject:
    name: str
    shape: str  # "box" | "sphere" | "capsule" (lying, its axis along `yaw`)
    size: tuple[float, ...]  # MuJoCo geom size
    rgba: tuple[float, ...]
    position: np.ndarray  # (3,) centre at rest on the table
    yaw: float  # about z; objects face the arm base so the gripper closes across them

    @property
    def half_height(self) -> float:
        return self.size[2] if self.shape == "box" else self.size[0]

    @property
    def width(self) -> float:
        """Extent across the closing fingers."""
        return 2 * (self.size[1] if self.shape == "box" else self.size[0])

    @property
    def footprint(self) -> float:
        """Radius of a disc on the table that holds the object (spacing, push contact)."""
        if self.shape == "box":
            return float(np.hypot(self.size[0], self.size[1]))
        if self.shape == "capsule":
            return self.size[0] + self.size[1]
        return self.size[0]


@dataclasses.dataclass(frozen=True)
class Segment:
    """A move of the gripper to `end` with `opening` at its end, taking `weight` of the episode's time.

    `contact` says how the target object moves meanwhile: "free" (stays), "push" (follows the gripper's
    horizontal motion), "carry" (rigidly attached to the gripper).
    """

    end: np.ndarray
    opening: float
    weight: float
    contact: str = "free"


@dataclasses.dataclass(frozen=True)
class Plan:
    task: str
    objects: tuple[SceneObject, ...]
    target: int  # index of the object the task is about
    start: np.ndarray  # (3,) gripper position at t = 0
    start_opening: float
    segments: tuple[Segment, ...]


def sample_objects(rng: np.random.Generator) -> tuple[SceneObject, ...]:
    """Two or three objects of random shape, size and colour, spread over the workspace."""
    count = int(rng.integers(2, 4))
    colours = rng.permutation(list(COLOURS))[:count]
    objects, placed = [], []
    for i, colour in enumerate(colours):
        shape = str(rng.choice(["box", "sphere", "capsule"]))
        if shape == "box":
            half = rng.uniform(0.022, 0.03)
            size = (half, half, rng.uniform(0.022, 0.035))
        elif shape == "sphere":
            size = (rng.uniform(0.024, 0.032), 0.0, 0.0)
        else:
            size = (rng.uniform(0.019, 0.024), rng.uniform(0.03, 0.045), 0.0)
        probe = SceneObject(f"object_{i}", shape, size, COLOURS[colour], np.zeros(3), 0.0)
        xy = _free_spot(rng, placed, probe.footprint)
        placed.append((xy, probe.footprint))
        position = np.array([xy[0], xy[1], probe.half_height])
        objects.append(dataclasses.replace(probe, position=position, yaw=float(np.arctan2(xy[1], xy[0]))))
    return tuple(objects)


def _free_spot(rng, placed, footprint, tries: int = 200) -> np.ndarray:
    """A point of the workspace at least a gap away from every placed (xy, footprint)."""
    for _ in range(tries):
        r, bearing = rng.uniform(*OBJECT_RADIUS), rng.uniform(*OBJECT_BEARING)
        xy = r * np.array([np.cos(bearing), np.sin(bearing)])
        if all(np.linalg.norm(xy - other) > footprint + f + 0.06 for other, f in placed):
            return xy
    raise RuntimeError("could not place the objects apart; the workspace is too crowded")


def plan_task(objects: tuple[SceneObject, ...], task: str, target: int, rng: np.random.Generator) -> Plan:
    """Gripper waypoints for `task` on `objects[target]`."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    obj = objects[target]
    top = obj.position[2] + obj.half_height
    above = np.array([obj.position[0], obj.position[1], top + HOVER])
    start = np.array([0.36, 0.0, 0.28])
    open_ = MAX_OPENING
    grip = min(obj.width, MAX_OPENING)
    if task == "reach":
        near = np.array([obj.position[0], obj.position[1], obj.position[2] + 0.01])
        segments = [
            Segment(above, open_, 1.4),
            Segment(near, open_, 1.0),
            Segment(near, 0.6 * open_, 0.5),
            Segment(near + [0, 0, 0.02], 0.6 * open_, 0.4),
            Segment(above, open_, 1.0),
        ]
    elif task == "push":
        direction, distance = _push_direction(objects, target, rng)
        behind = obj.position[:2] - direction * (obj.footprint + 0.022)
        low = np.array([behind[0], behind[1], max(obj.position[2], 0.022)])
        pushed = low + np.append(direction * distance, 0.0)
        segments = [
            Segment(low + [0, 0, top + HOVER - low[2]], 0.0, 1.4),
            Segment(low, 0.0, 1.0),
            Segment(pushed, 0.0, 1.6, contact="push"),
            Segment(pushed + [0, 0, HOVER], 0.0, 1.0),
        ]
    else:
        place = _place_spot(objects, target, rng)
        lifted = obj.position + [0, 0, 0.12]
        put = np.array([place[0], place[1], obj.position[2]])
        segments = [
            Segment(above, open_, 1.3),
            Segment(obj.position, open_, 1.0),
            Segment(obj.position, grip, 0.5),
            Segment(lifted, grip, 0.9, contact="carry"),
            Segment(put + [0, 0, 0.12], grip, 0.9, contact="carry"),
            Segment(put, grip, 0.8, contact="carry"),
            Segment(put, open_, 0.5),
            Segment(put + [0, 0, HOVER], open_, 0.8),
        ]
    return Plan(task, objects, target, start, open_, tuple(segments))


def _push_direction(objects, target, rng, distance: float = 0.13):
    """A horizontal push direction that keeps the gripper and the object in reach and off the others."""
    obj = objects[target]
    for _ in range(200):
        angle = rng.uniform(-np.pi, np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        end = obj.position[:2] + direction * distance
        behind = obj.position[:2] - direction * (obj.footprint + 0.03)
        if not (OBJECT_RADIUS[0] - 0.02 <= np.linalg.norm(end) <= OBJECT_RADIUS[1] + 0.04):
            continue
        if np.linalg.norm(behind) < 0.27 or abs(np.arctan2(end[1], end[0])) > 0.95:
            continue
        swept = [obj.position[:2] + direction * s for s in np.linspace(0, distance, 6)]
        if _clear_of_others(objects, target, swept, 0.03):
            return direction, distance
    return -obj.position[:2] / np.linalg.norm(obj.position[:2]), 0.06  # a short push towards the arm


def _place_spot(objects, target, rng) -> np.ndarray:
    """Where a picked object is put down: 8-16 cm from where it was, clear of the other objects."""
    obj = objects[target]
    for _ in range(200):
        angle, step = rng.uniform(-np.pi, np.pi), rng.uniform(0.08, 0.16)
        xy = obj.position[:2] + step * np.array([np.cos(angle), np.sin(angle)])
        r, bearing = np.linalg.norm(xy), np.arctan2(xy[1], xy[0])
        in_reach = OBJECT_RADIUS[0] <= r <= OBJECT_RADIUS[1] and abs(bearing) <= 0.9
        if in_reach and _clear_of_others(objects, target, [xy], 0.04):
            return xy
    return obj.position[:2].copy()


def _clear_of_others(objects, target, points, gap) -> bool:
    obj = objects[target]
    return all(
        np.linalg.norm(p - other.position[:2]) > obj.footprint + other.footprint + gap
        for i, other in enumerate(objects)
        if i != target
        for p in points
    )


# ---- time: waypoints -> per-frame gripper and object poses ------------------------------------------


def minimum_jerk(tau):
    """Position fraction of a rest-to-rest minimum-jerk move at time fraction `tau` in [0, 1]."""
    tau = np.clip(tau, 0.0, 1.0)
    return tau**3 * (10 - 15 * tau + 6 * tau**2)


def gripper_rotation(position) -> np.ndarray:
    """Top-down gripper frame at `position`: approach (z) straight down, the fingers closing across the
    line from the arm base (y tangential), as the arm reaches it with its wrist roll at zero."""
    bearing = np.arctan2(position[1], position[0])
    radial = np.array([np.cos(bearing), np.sin(bearing), 0.0])
    tangential = np.array([-radial[1], radial[0], 0.0])
    return np.stack([-radial, tangential, [0.0, 0.0, -1.0]], axis=1)


@dataclasses.dataclass(frozen=True)
class Track:
    """Per-frame targets of an episode."""

    position: np.ndarray  # (T, 3) gripper position
    rotation: np.ndarray  # (T, 3, 3) gripper frame (top-down)
    opening: np.ndarray  # (T,)
    object_position: np.ndarray  # (T, N, 3)
    object_rotation: np.ndarray  # (T, N, 3, 3)


def track(plan: Plan, frames: int) -> Track:
    """Sample the plan at `frames` evenly spaced times (first and last frame at the ends)."""
    weights = np.array([s.weight for s in plan.segments])
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    starts = [plan.start] + [s.end for s in plan.segments[:-1]]
    openings = [plan.start_opening] + [s.opening for s in plan.segments[:-1]]
    positions, opening, obj_pos, obj_rot = [], [], [], []
    for time in np.linspace(0.0, 1.0, frames):
        k = min(int(np.searchsorted(bounds, time, side="right")) - 1, len(plan.segments) - 1)
        fraction = minimum_jerk((time - bounds[k]) / (bounds[k + 1] - bounds[k]))
        seg = plan.segments[k]
        positions.append(starts[k] + fraction * (seg.end - starts[k]))
        opening.append(openings[k] + fraction * (seg.opening - openings[k]))
        p, r = _objects_at(plan, starts, k, positions[-1])
        obj_pos.append(p)
        obj_rot.append(r)
    positions = np.array(positions)
    return Track(
        position=positions,
        rotation=np.stack([gripper_rotation(p) for p in positions]),
        opening=np.array(opening),
        object_position=np.array(obj_pos),
        object_rotation=np.array(obj_rot),
    )


def _objects_at(plan: Plan, starts, segment: int, gripper):
    """Object poses while the gripper is at `gripper` in `segment`: replay the contacts of the earlier
    segments, then the current one up to now."""
    positions = np.array([o.position for o in plan.objects], np.float64)
    rotations = np.stack([_yaw_matrix(o.yaw) for o in plan.objects])
    i = plan.target
    for k in range(segment + 1):
        seg = plan.segments[k]
        a, b = starts[k], (gripper if k == segment else seg.end)
        if seg.contact == "push":
            positions[i, :2] += (b - a)[:2]
        elif seg.contact == "carry":
            ra, rb = gripper_rotation(a), gripper_rotation(b)
            relative = rb @ ra.T
            positions[i] = b + relative @ (positions[i] - a)
            rotations[i] = relative @ rotations[i]
    return positions, rotations


def _yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# ---- MJCF ---------------------------------------------------------------------------------------------


def _rgba(values) -> str:
    return " ".join(f"{v:.3g}" for v in values)


def _vec(values) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _arm_xml() -> str:
    """The robot: base, shoulder yaw/pitch, elbow, wrist pitch/roll, parallel gripper, `gripper` site."""
    link, dark = _rgba(ARM_RGBA), _rgba(ARM_DARK_RGBA)
    return f"""
    <body name="arm_base">
      <geom name="arm_base" type="cylinder" size="0.08 {BASE_HEIGHT / 2}" pos="0 0 {BASE_HEIGHT / 2}" rgba="{dark}"/>
      <body name="shoulder" pos="0 0 {BASE_HEIGHT}">
        <joint name="shoulder_yaw" axis="0 0 1" range="-3.1416 3.1416"/>
        <geom name="shoulder" type="capsule" fromto="0 0 0 0 0 {SHOULDER_LINK}" size="0.052" rgba="{link}"/>
        <body name="upper_arm" pos="0 0 {SHOULDER_LINK}">
          <joint name="shoulder_pitch" axis="0 1 0" range="-2.6 2.6"/>
          <geom name="upper_arm" type="capsule" fromto="0 0 0 0 0 {UPPER_ARM}" size="0.043" rgba="{link}"/>
          <body name="forearm" pos="0 0 {UPPER_ARM}">
            <joint name="elbow" axis="0 1 0" range="-2.9 2.9"/>
            <geom name="elbow" type="cylinder" size="0.05 0.048" euler="1.5708 0 0" rgba="{dark}"/>
            <geom name="forearm" type="capsule" fromto="0 0 0 0 0 {FOREARM}" size="0.036" rgba="{link}"/>
            <body name="wrist" pos="0 0 {FOREARM}">
              <joint name="wrist_pitch" axis="0 1 0" range="-2.9 2.9"/>
              <geom name="wrist" type="capsule" fromto="0 0 0 0 0 0.045" size="0.032" rgba="{dark}"/>
              <body name="hand" pos="0 0 {WRIST_LINK}">
                <joint name="wrist_roll" axis="0 0 1" range="-3.1416 3.1416"/>
                <geom name="palm" type="box" size="0.026 0.072 0.015" pos="0 0 0.015" rgba="{dark}"/>
                <body name="finger_left" pos="0 0 0.03">
                  <joint name="finger_left" type="slide" axis="0 1 0" range="0 {FINGER_TRAVEL}"/>
                  <geom name="finger_left" type="box" size="0.012 0.008 0.035" pos="0 0.008 0.035" rgba="{link}"/>
                </body>
                <body name="finger_right" pos="0 0 0.03">
                  <joint name="finger_right" type="slide" axis="0 -1 0" range="0 {FINGER_TRAVEL}"/>
                  <geom name="finger_right" type="box" size="0.012 0.008 0.035" pos="0 -0.008 0.035" rgba="{link}"/>
                </body>
                <site name="gripper" pos="0 0 {GRIPPER_SITE}" size="0.008"/>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def _chain_xml(name: str, lengths, radii, first_keypoint: int, rgba: str) -> str:
    """A finger: three capsule segments on hinges about their local x, keypoint sites at the joints and
    the tip (MANO order: the chain's keypoints are consecutive)."""
    xml_open, xml_close = "", ""
    for j, (length, radius) in enumerate(zip(lengths, radii)):
        pos = "0 0 0" if j == 0 else f"0 0 {lengths[j - 1]:.6g}"
        body = f'<body name="{name}_{j + 1}" pos="{pos}">' if j else ""
        xml_open += f"""
          {body}<joint name="{name}_{j + 1}" axis="1 0 0" range="-0.3 2.0"/>
          <geom name="{name}_{j + 1}" type="capsule" fromto="0 0 0 0 0 {length:.6g}" size="{radius:.6g}" rgba="{rgba}"/>
          <site name="kp_{first_keypoint + j:02d}" pos="0 0 0" size="0.004"/>"""
        if j:
            xml_close = "</body>" + xml_close
    tip = f'<site name="kp_{first_keypoint + 3:02d}" pos="0 0 {lengths[-1]:.6g}" size="0.004"/>'
    return xml_open + tip + xml_close


def _thumb_frame() -> np.ndarray:
    """Rotation of the thumb's first segment in the hand frame: it points out, forward and a little
    palm-wards, and its hinges turn it towards the front of the index finger (opposition)."""
    direction = np.array([0.75, -0.35, 0.55])
    direction /= np.linalg.norm(direction)
    towards = np.array([FINGERS["index"][0][0], -0.035, 0.125]) - np.array(THUMB_BASE)
    axis = np.cross(direction, towards)
    axis /= np.linalg.norm(axis)
    return np.stack([axis, np.cross(direction, axis), direction], axis=1)


def _quat(rotation) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(rotation, np.float64).reshape(9))
    return q


def _hand_xml() -> str:
    """The human stand-in: free forearm (sleeve, skin), palm, thumb and four fingers, 21 keypoint sites."""
    skin = _rgba(SKIN_RGBA)
    fingers = ""
    for k, (name, ((x, z), lengths, radius)) in enumerate(FINGERS.items()):
        chain = _chain_xml(name, lengths, (radius, radius * 0.95, radius * 0.9), 5 + 4 * k, skin)
        fingers += f'\n        <body name="{name}_1" pos="{x:.6g} 0 {z:.6g}">{chain}\n        </body>'
    thumb = _chain_xml("thumb", THUMB_LENGTHS, THUMB_RADII, 1, skin)
    elbow = FOREARM_DIRECTION
    return f"""
    <body name="human_forearm">
      <freejoint name="human_root"/>
      <geom name="sleeve" type="capsule" fromto="{_vec(0.2 * elbow)} {_vec(0.34 * elbow)}" size="0.043"
            rgba="{_rgba(SLEEVE_RGBA)}"/>
      <geom name="human_forearm" type="capsule" fromto="{_vec(0.025 * elbow)} {_vec(0.22 * elbow)}" size="0.03"
            rgba="{skin}"/>
      <geom name="human_palm" type="box" size="0.036 0.012 0.042" pos="0 0 0.045" rgba="{skin}"/>
      <site name="kp_00" pos="0 0 0" size="0.004"/>
      <body name="thumb_1" pos="{_vec(THUMB_BASE)}" quat="{_vec(_quat(_thumb_frame()))}">{thumb}
      </body>{fingers}
    </body>"""


def _object_xml(obj: SceneObject) -> str:
    extra = ' zaxis="1 0 0"' if obj.shape == "capsule" else ""
    size = obj.size[:2] if obj.shape == "capsule" else obj.size[:1] if obj.shape == "sphere" else obj.size
    return f"""
    <body name="{obj.name}" pos="{_vec(obj.position)}">
      <freejoint name="{obj.name}"/>
      <geom name="{obj.name}" type="{obj.shape}" size="{_vec(size)}"{extra} rgba="{_rgba(obj.rgba)}"/>
    </body>"""


def scene_xml(objects: tuple[SceneObject, ...], embodiment: str = "robot") -> str:
    """MJCF of the floor, the table, the objects and the arm (or the human forearm and hand)."""
    if embodiment not in EMBODIMENTS:
        raise ValueError(f"embodiment must be one of {EMBODIMENTS}, got {embodiment!r}")
    body = _arm_xml() if embodiment == "robot" else _hand_xml()
    return f"""<mujoco model="h2rep_tabletop_{embodiment}">
  <compiler angle="radian" autolimits="true"/>
  <default><geom contype="0" conaffinity="0"/></default>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05" pos="0 0 {FLOOR_Z}" rgba="{_rgba(FLOOR_RGBA)}"/>
    <geom name="table" type="box" size="{_vec(TABLE_HALF)}" pos="{_vec(TABLE_CENTRE)}" rgba="{_rgba(TABLE_RGBA)}"/>
    {"".join(_object_xml(o) for o in objects)}{body}
  </worldbody>
</mujoco>
"""


@dataclasses.dataclass(frozen=True)
class Scene:
    """A compiled scene and the geom sets the renderer needs."""

    model: mujoco.MjModel
    embodiment: str
    embodiment_geoms: tuple[int, ...]  # every geom of the arm or the hand: masked, hidden in backgrounds
    object_bodies: tuple[int, ...]
    checker: dict  # geom id -> (square size, contrast) for the ray caster


def build_scene(objects: tuple[SceneObject, ...], embodiment: str = "robot") -> Scene:
    model = mujoco.MjModel.from_xml_string(scene_xml(objects, embodiment))
    root = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "arm_base" if embodiment == "robot" else "human_forearm")
    geoms = tuple(int(g) for g in range(model.ngeom) if model.body_rootid[model.geom_bodyid[g]] == root)
    bodies = tuple(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, o.name) for o in objects)
    checker = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name): v for name, v in CHECKER.items()}
    return Scene(model, embodiment, geoms, bodies, checker)


def paint_gripper(scene: Scene, rgb) -> None:
    """Give the robot's gripper (palm and fingers) the colour `rgb` (three values in [0, 1]), in place."""
    if scene.embodiment != "robot":
        raise ValueError("only the robot has a gripper to colour")
    for name in GRIPPER_GEOMS:
        scene.model.geom_rgba[mujoco.mj_name2id(scene.model, mujoco.mjtObj.mjOBJ_GEOM, name), :3] = rgb


def gripper_colour(text: str) -> tuple[float, float, float]:
    """A gripper colour from a name of `GRIPPER_COLOURS` or "R,G,B" with values in [0, 1]."""
    if text in GRIPPER_COLOURS:
        return GRIPPER_COLOURS[text]
    try:
        rgb = tuple(float(v) for v in text.split(","))
    except ValueError:
        rgb = ()
    if len(rgb) != 3 or not all(0.0 <= v <= 1.0 for v in rgb):
        raise ValueError(f"a gripper colour is one of {sorted(GRIPPER_COLOURS)} or R,G,B in [0, 1] "
                         f"(e.g. 0.05,0.8,0.85), got {text!r}")
    return rgb


def dataset_camera(width: int, height: int) -> Camera:
    """The fixed camera of the dataset: in front of the table, above it, a little to the side."""
    return Camera.look_at(width, height, 48.0, eye=(1.0, 0.42, 0.95), target=(0.18, 0.0, 0.2))


# ---- episodes ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Episode:
    name: str
    task: str
    target: str  # name of the object the task is about
    scene: Scene
    qpos: np.ndarray  # (T, nq): the whole scene per frame (apply with `set_frame`)
    ee_position: np.ndarray  # (T, 3) world
    ee_rotation: np.ndarray  # (T, 3, 3) columns: gripper axes in world, column 2 = approach
    gripper_opening: np.ndarray  # (T,) metres
    keypoints: np.ndarray | None  # (T, 21, 3) world, human stand-in only


def episode_plan(seed: int, index: int) -> Plan:
    """The objects and the task of clip `index`: the same for the robot and the human stand-in."""
    rng = np.random.default_rng([int(seed), int(index)])
    objects = sample_objects(rng)
    task = str(rng.choice(TASKS))
    target = int(rng.integers(len(objects)))
    return plan_task(objects, task, target, rng)


def make_episode(seed: int, index: int, frames: int, embodiment: str = "robot") -> Episode:
    """Clip `index` of `seed` as `frames` poses of the whole scene, with the gripper (or hand) ground truth."""
    plan = episode_plan(seed, index)
    scene = build_scene(plan.objects, embodiment)
    path = track(plan, frames)
    qpos = _object_qpos(scene, path)
    prefix = "" if embodiment == "robot" else "human_"
    name = f"{prefix}{plan.task}_{int(index):03d}"
    common = dict(name=name, task=plan.task, target=plan.objects[plan.target].name, scene=scene)
    if embodiment == "robot":
        qpos, position, rotation = solve_arm(scene.model, qpos, path)
        return Episode(**common, qpos=qpos, ee_position=position, ee_rotation=rotation,
                       gripper_opening=path.opening.copy(), keypoints=None)
    qpos, keypoints = pose_hand(scene.model, qpos, path)
    position, rotation, opening = hand_gripper_proxy(keypoints)
    return Episode(**common, qpos=qpos, ee_position=position, ee_rotation=rotation,
                   gripper_opening=opening, keypoints=keypoints)


def set_frame(model: mujoco.MjModel, data: mujoco.MjData, qpos) -> None:
    """Pose the scene (no dynamics): qpos then forward kinematics."""
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)


def _object_qpos(scene: Scene, path: Track) -> np.ndarray:
    """(T, nq) with the objects' free joints filled in, everything else zero."""
    model = scene.model
    qpos = np.zeros((len(path.position), model.nq))
    for i, body in enumerate(scene.object_bodies):
        adr = model.jnt_qposadr[model.body_jntadr[body]]
        qpos[:, adr : adr + 3] = path.object_position[:, i]
        qpos[:, adr + 3 : adr + 7] = [_quat(r) for r in path.object_rotation[:, i]]
    return qpos


def _joint_addresses(model, names):
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]
    return np.array([model.jnt_qposadr[j] for j in ids]), np.array([model.jnt_dofadr[j] for j in ids]), ids


def solve_arm(model: mujoco.MjModel, qpos: np.ndarray, path: Track, *, tolerance: float = 2e-3):
    """Joint angles for every frame (IK warm-started from the previous frame), with the fingers set from
    the opening. Returns (qpos, site positions, site rotations) as actually reached."""
    data = mujoco.MjData(model)
    site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "gripper")
    arm_q, arm_dof, arm_ids = _joint_addresses(model, ARM_JOINTS)
    finger_q, _, _ = _joint_addresses(model, FINGER_JOINTS)
    limits = model.jnt_range[arm_ids]
    qpos = qpos.copy()
    bearing = np.arctan2(path.position[0, 1], path.position[0, 0])
    q = np.array([bearing, 0.25, 1.55, np.pi - 1.8, 0.0])  # elbow up, gripper down
    positions, rotations = [], []
    for k in range(len(qpos)):
        data.qpos[:] = qpos[k]
        data.qpos[finger_q] = np.clip(path.opening[k] / 2, 0.0, FINGER_TRAVEL)
        q, error = ik(model, data, site, arm_q, arm_dof, limits, q, path.position[k], path.rotation[k])
        if error > tolerance:
            raise RuntimeError(f"IK missed frame {k} by {error * 1000:.1f} mm; the target is out of reach")
        qpos[k] = data.qpos
        positions.append(data.site_xpos[site].copy())
        rotations.append(data.site_xmat[site].reshape(3, 3).copy())
    return qpos, np.array(positions), np.array(rotations)


def ik(model, data, site, q_adr, dof_adr, limits, q0, position, rotation, *, iterations=100, damping=0.02):
    """Damped least squares on the site's position and orientation error; returns (q, position error).

    `data.qpos` holds the rest of the scene; it is left at the solution (kinematics up to date).
    """
    q = q0.copy()
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    for _ in range(iterations):
        data.qpos[q_adr] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        current = data.site_xmat[site].reshape(3, 3)
        err_p = position - data.site_xpos[site]
        err_r = 0.5 * np.cross(current.T, rotation.T).sum(axis=0)  # small-angle rotation error (world)
        error = np.concatenate([err_p, 0.3 * err_r])
        if np.linalg.norm(err_p) < 1e-5 and np.linalg.norm(err_r) < 1e-4:
            break
        mujoco.mj_jacSite(model, data, jacp, jacr, site)
        jac = np.vstack([jacp[:, dof_adr], 0.3 * jacr[:, dof_adr]])
        step = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(6), error)
        step *= min(1.0, 0.5 / max(np.abs(step).max(), 1e-12))
        q = np.clip(q + step, limits[:, 0], limits[:, 1])
    data.qpos[q_adr] = q
    mujoco.mj_kinematics(model, data)
    return q, float(np.linalg.norm(position - data.site_xpos[site]))


# ---- human stand-in ------------------------------------------------------------------------------------


def hand_rotation(position, keypoints_local) -> np.ndarray:
    """Hand frame for a gripper-proxy position: the thumb-index tip line across the reach direction and
    level (like the robot's closing fingers), the fingers as close as that allows to pointing down and
    tilted towards the reach direction, the back of the hand outwards. `keypoints_local` (21, 3) are the
    keypoints in the hand frame at the current curl."""
    bearing = np.arctan2(position[1], position[0])
    radial = np.array([np.cos(bearing), np.sin(bearing), 0.0])
    across = np.array([-radial[1], radial[0], 0.0])
    approach = -np.cos(HAND_TILT) * np.array([0.0, 0.0, 1.0]) + np.sin(HAND_TILT) * radial
    pinch = keypoints_local[8] - keypoints_local[4]  # thumb tip -> index tip, the thumb on the +x side
    world = _frame(-across, approach)
    local = _frame(pinch, keypoints_local[9] - keypoints_local[0])
    return world @ local.T


def _frame(first, second) -> np.ndarray:
    """Orthonormal columns: `first` normalised, `second` made orthogonal to it, their cross product."""
    e1 = first / np.linalg.norm(first)
    e2 = second - (second @ e1) * e1
    e2 /= np.linalg.norm(e2)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def _hand_addresses(model):
    fingers = [f"{n}_{j}" for n in ("thumb", *FINGERS) for j in (1, 2, 3)]
    q_adr, _, _ = _joint_addresses(model, fingers)
    root = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "human_root")
    sites = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, s) for s in KEYPOINT_SITES]
    return q_adr, model.jnt_qposadr[root], np.array(sites)


def curl_angles(curl: float) -> np.ndarray:
    """Finger joint angles (thumb, index, middle, ring, little; three each) at a curl in [0, 1]."""
    return float(curl) * np.concatenate([THUMB_CURL] + [FINGER_CURL] * len(FINGERS))


def hand_keypoints_local(model, curl: float, data=None) -> np.ndarray:
    """(21, 3) keypoints in the hand (wrist) frame at `curl`."""
    data = mujoco.MjData(model) if data is None else data
    q_adr, root, sites = _hand_addresses(model)
    data.qpos[:] = 0.0
    data.qpos[root + 3] = 1.0
    data.qpos[q_adr] = curl_angles(curl)
    mujoco.mj_kinematics(model, data)
    return data.site_xpos[sites].copy()


def curl_table(model) -> tuple[np.ndarray, np.ndarray]:
    """(thumb-index tip distances increasing, their curls) over the range where closing the hand
    shrinks the distance, to turn a gripper opening into a curl by interpolation."""
    data = mujoco.MjData(model)
    curls = np.linspace(HUMAN_MIN_CURL, 1.0, 47)
    gaps = np.array([np.linalg.norm(k[4] - k[8]) for k in (hand_keypoints_local(model, c, data) for c in curls)])
    stop = int(np.argmin(gaps)) + 1
    return gaps[:stop][::-1].copy(), curls[:stop][::-1].copy()


def pose_hand(model: mujoco.MjModel, qpos: np.ndarray, path: Track):
    """Place the free hand so that the midpoint of thumb tip and index tip follows the gripper path.

    The robot's opening (gap between finger pads) maps to a thumb-index tip distance wider by the two
    fingertip radii, so a pinch ends on the object's sides. Returns (qpos, world keypoints (T, 21, 3)).
    """
    data = mujoco.MjData(model)
    q_adr, root, sites = _hand_addresses(model)
    tip_radii = FINGERS["index"][2] + THUMB_RADII[2]
    gaps, curls = curl_table(model)
    qpos = qpos.copy()
    keypoints = []
    for k in range(len(qpos)):
        curl = float(np.interp(path.opening[k] + tip_radii, gaps, curls))  # clamps to the hand's range
        local = hand_keypoints_local(model, curl, data)
        rotation = hand_rotation(path.position[k], local)
        wrist = path.position[k] - rotation @ (0.5 * (local[4] + local[8]))
        qpos[k, root : root + 3] = wrist
        qpos[k, root + 3 : root + 7] = _quat(rotation)
        qpos[k, q_adr] = curl_angles(curl)
        set_frame(model, data, qpos[k])
        keypoints.append(data.site_xpos[sites].copy())
    return qpos, np.array(keypoints)


def hand_gripper_proxy(keypoints: np.ndarray):
    """Gripper pose of hand keypoints (T, 21, 3): position = midpoint of thumb tip and index tip,
    approach = wrist -> middle knuckle, x = little -> index knuckle made orthogonal to it, y = z x x.
    Returns (position (T, 3), rotation (T, 3, 3), opening = thumb-index tip distance (T,))."""
    keypoints = np.asarray(keypoints, np.float64)
    position = 0.5 * (keypoints[:, 4] + keypoints[:, 8])
    z = keypoints[:, 9] - keypoints[:, 0]
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    x = keypoints[:, 5] - keypoints[:, 17]
    x -= (x * z).sum(-1, keepdims=True) * z
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    rotation = np.stack([x, np.cross(z, x), z], axis=-1)
    return position, rotation, np.linalg.norm(keypoints[:, 4] - keypoints[:, 8], axis=-1)
