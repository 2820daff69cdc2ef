"""Writes a humanoid's MJCF from its published facts and the project's simulation choices.

A robot package (`robots/<name>/mjcf.py`) lists its facts as a `Design`: links (kinematic tree,
masses, centres of mass, inertias), joints (axis, range), motors (rotor inertia reflected through the
gearbox, peak torque), primitive collision shapes, sole points, self-collision pairs, the default pose.
`build_xml(design, actuated, pelvis_height)` turns that into the MJCF every robot here shares:

* collision geometry of primitives only (capsules and spheres), sized to the links;
* contacts only through explicit `<pair>`s: sole spheres per foot against the floor and a few
  self-collision pairs; every geom has contype = conaffinity = 0, so the broad phase never looks at
  anything else;
* visual geoms are the same primitives, coloured by side (left blue, right orange);
* PD position actuators whose gains follow from the armature: natural frequency 10 Hz (unless a `Motor`
  sets its own), damping ratio 2, kp = J w^2 and kd = 2 zeta J w (the choice of mjlab and BeyondMimic);
* 200 Hz physics, implicit-fast integration, Newton solver with few iterations, Euler damping off;
* a `stand` keyframe with the default pose, its soles resting on the floor (`standing_pelvis_height`).

Left/right naming (`left_*`, `right_*`) is what the mirror map, colours and shapes rely on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from xml.etree import ElementTree as ET

import numpy as np

PHYSICS_TIMESTEP = 0.005  # 200 Hz; the control loop runs at 50 Hz over 4 substeps.
PD_NATURAL_FREQUENCY_HZ = 10.0
PD_DAMPING_RATIO = 2.0


@dataclasses.dataclass(frozen=True)
class Motor:
    """A joint motor: rotor inertia seen at the joint (kg m^2) and peak torque (N m).

    `natural_frequency_hz` lowers the PD gains of a motor whose armature is a model's placeholder
    rather than its rotor's (the gains stay kp = J w^2, kd = 2 zeta J w, at that frequency).
    """

    armature: float
    effort_limit: float
    natural_frequency_hz: float = PD_NATURAL_FREQUENCY_HZ

    @property
    def kp(self) -> float:
        omega = 2.0 * math.pi * self.natural_frequency_hz
        return self.armature * omega**2

    @property
    def kd(self) -> float:
        omega = 2.0 * math.pi * self.natural_frequency_hz
        return 2.0 * PD_DAMPING_RATIO * self.armature * omega


@dataclasses.dataclass(frozen=True)
class Link:
    """One body: pose in its parent's frame, inertia, and the hinge joint at its origin (or None)."""

    name: str
    parent: str
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    mass: float
    com: tuple[float, float, float]
    inertia_quat: tuple[float, float, float, float]
    inertia_diag: tuple[float, float, float]
    joint: str | None


@dataclasses.dataclass(frozen=True)
class Shape:
    """A primitive on a left-side (or central) link; the right side is its mirror image in y."""

    name: str
    kind: str  # "capsule" or "sphere"
    radius: float
    start: tuple[float, float, float]  # capsule start, or sphere centre
    end: tuple[float, float, float] | None = None


@dataclasses.dataclass(frozen=True)
class Site:
    """A named point on a link (IMU, foot centre), for deployment and rendering."""

    name: str
    link: str
    pos: tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Design:
    """Everything `build_xml` needs to know about one robot.

    `shapes` and `default_joint_pos` are keyed by link/joint name without the side prefix (a full name
    wins over the side-less one, e.g. `left_shoulder_roll`); `motor_of_joint` by the side-less joint
    kind (`hip_pitch`). `sole_link` is the side-less foot link carrying the `sole_points` spheres.
    """

    model_name: str
    title: str  # for the generated file's header, e.g. "Unitree H1"
    regenerate_command: str  # how to regenerate the committed file
    links: tuple[Link, ...]  # depth-first (MJCF body order); the first is the floating root
    joints: Mapping[str, tuple[tuple[float, float, float], tuple[float, float]]]  # axis, range
    motors: Mapping[str, Motor]
    motor_of_joint: Mapping[str, str]
    shapes: Mapping[str, tuple[Shape, ...]]
    sole_link: str
    sole_points: tuple[str, ...]
    self_collision_pairs: tuple[tuple[str, str], ...]
    default_joint_pos: Mapping[str, float]
    sites: tuple[Site, ...] = ()
    foot_friction: float = 1.0
    joint_friction_loss: float = 0.1  # N m of dry friction at every joint
    camera_offset: tuple[float, float, float] = (2.2, -2.2, 0.5)

    def motor(self, joint_name: str) -> Motor:
        kind = side_less(joint_name).removesuffix("_joint")
        return self.motors[self.motor_of_joint[kind]]

    def default_position(self, joint_name: str) -> float:
        kind = joint_name.removesuffix("_joint")
        if kind in self.default_joint_pos:
            return self.default_joint_pos[kind]
        return self.default_joint_pos.get(side_less(kind), 0.0)

    @property
    def joint_order(self) -> tuple[str, ...]:
        """Every joint of the design, in MJCF (depth-first) order."""
        return tuple(link.joint for link in self.links if link.joint is not None)


SIDE_COLOURS = {"left": "0.25 0.45 0.85 1", "right": "0.9 0.55 0.2 1", "centre": "0.62 0.63 0.66 1"}


def side_of(name: str) -> str:
    for side in ("left", "right"):
        if name.startswith(side + "_"):
            return side
    return "centre"


def side_less(name: str) -> str:
    return name.removeprefix("left_").removeprefix("right_")


def _mirror_y(v):
    return (v[0], -v[1], v[2])


def _fmt(values) -> str:
    return " ".join(f"{float(x):.9g}" for x in values)


def _link_shapes(design: Design, link: Link) -> list[tuple[str, Shape]]:
    """(geom name, shape in this link's frame) for every primitive on the link."""
    side = side_of(link.name)
    key = link.name if side == "centre" else side_less(link.name)
    shapes = []
    for shape in design.shapes.get(key, ()):
        if side == "right":
            shape = dataclasses.replace(
                shape, start=_mirror_y(shape.start), end=None if shape.end is None else _mirror_y(shape.end)
            )
        name = shape.name if side == "centre" else f"{side}_{shape.name}"
        shapes.append((name, shape))
    return shapes


def _add_geom(body: ET.Element, name: str, shape: Shape, colour: str) -> None:
    attrs = {"name": name, "type": shape.kind, "size": f"{shape.radius:g}", "rgba": colour}
    if shape.kind == "capsule":
        attrs["fromto"] = _fmt(shape.start + shape.end)
    else:
        attrs["pos"] = _fmt(shape.start)
    ET.SubElement(body, "geom", attrs)


def _camera_xyaxes(offset) -> str:
    """xyaxes of a camera at `offset` from its target, looking at the target with z up."""
    forward = -np.asarray(offset, dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return _fmt(np.round(np.concatenate([right, up]), 6))


def _header(root: ET.Element) -> None:
    ET.SubElement(root, "compiler", {"angle": "radian", "autolimits": "true"})
    option = ET.SubElement(root, "option", {
        "timestep": f"{PHYSICS_TIMESTEP:g}", "integrator": "implicitfast", "solver": "Newton",
        "iterations": "4", "ls_iterations": "6", "cone": "pyramidal", "jacobian": "dense",
    })
    ET.SubElement(option, "flag", {"eulerdamp": "disable"})
    visual = ET.SubElement(root, "visual")
    ET.SubElement(visual, "headlight", {"diffuse": "0.6 0.6 0.6", "ambient": "0.3 0.3 0.3", "specular": "0 0 0"})
    ET.SubElement(visual, "global", {"azimuth": "135", "elevation": "-20", "offwidth": "1280", "offheight": "720"})


def _defaults_and_assets(root: ET.Element, design: Design) -> None:
    default = ET.SubElement(root, "default")
    # No geom takes part in automatic collision detection; contacts come only from <pair>s.
    ET.SubElement(default, "geom", {"contype": "0", "conaffinity": "0", "density": "0", "group": "1"})
    ET.SubElement(default, "joint", {"frictionloss": f"{design.joint_friction_loss:g}"})
    asset = ET.SubElement(root, "asset")
    ET.SubElement(asset, "texture", {
        "name": "grid", "type": "2d", "builtin": "checker", "width": "512", "height": "512",
        "rgb1": "0.82 0.84 0.86", "rgb2": "0.7 0.72 0.75", "mark": "edge", "markrgb": "0.55 0.57 0.6",
    })
    ET.SubElement(asset, "material", {"name": "floor", "texture": "grid", "texrepeat": "1 1", "texuniform": "true"})
    ET.SubElement(asset, "texture", {
        "name": "sky", "type": "skybox", "builtin": "gradient", "rgb1": "0.92 0.94 0.97", "rgb2": "0.6 0.68 0.78",
        "width": "256", "height": "256",
    })


def _bodies(world: ET.Element, design: Design, actuated: tuple[str, ...], pelvis_height: float) -> None:
    bodies = {"world": world}
    for link in design.links:
        attrs = {"name": link.name}
        attrs["pos"] = _fmt((link.pos[0], link.pos[1], pelvis_height) if link.parent == "world" else link.pos)
        if link.quat != (1.0, 0.0, 0.0, 0.0):
            attrs["quat"] = _fmt(link.quat)
        body = ET.SubElement(bodies[link.parent], "body", attrs)
        bodies[link.name] = body
        ET.SubElement(body, "inertial", {
            "pos": _fmt(link.com), "quat": _fmt(link.inertia_quat), "mass": f"{link.mass:g}",
            "diaginertia": _fmt(link.inertia_diag),
        })
        if link.parent == "world":
            ET.SubElement(body, "freejoint", {"name": "floating_base_joint"})
            ET.SubElement(body, "camera", {
                "name": "track", "mode": "trackcom", "pos": _fmt(design.camera_offset),
                "xyaxes": _camera_xyaxes(design.camera_offset),
            })
        if link.joint is not None and link.joint in actuated:
            axis, limits = design.joints[link.joint]
            motor = design.motor(link.joint)
            ET.SubElement(body, "joint", {
                "name": link.joint, "axis": _fmt(axis), "range": _fmt(limits),
                "armature": f"{motor.armature:.9g}", "actuatorfrcrange": _fmt((-motor.effort_limit, motor.effort_limit)),
            })
        colour = SIDE_COLOURS[side_of(link.name)]
        for name, shape in _link_shapes(design, link):
            _add_geom(body, name, shape, colour)
        for site in design.sites:
            if site.link == link.name:
                ET.SubElement(body, "site", {"name": site.name, "pos": _fmt(site.pos), "size": "0.01"})


def _contacts_and_actuators(root: ET.Element, design: Design, actuated: tuple[str, ...]) -> None:
    contact = ET.SubElement(root, "contact")
    friction = _fmt((design.foot_friction, design.foot_friction, 0.005, 0.0001, 0.0001))
    for side in ("left", "right"):
        for point in design.sole_points:
            ET.SubElement(contact, "pair", {
                "name": f"{side}_{point}_floor", "geom1": f"{side}_{point}", "geom2": "floor",
                "condim": "3", "friction": friction,
            })
    for geom1, geom2 in design.self_collision_pairs:
        ET.SubElement(contact, "pair", {"name": f"{geom1}__{geom2}", "geom1": geom1, "geom2": geom2, "condim": "1"})
    actuator = ET.SubElement(root, "actuator")
    for joint in actuated:
        motor = design.motor(joint)
        ET.SubElement(actuator, "position", {
            "name": joint.removesuffix("_joint"), "joint": joint, "kp": f"{motor.kp:.9g}", "kv": f"{motor.kd:.9g}",
            "inheritrange": "1",
        })


def build_xml(design: Design, actuated: tuple[str, ...] | None = None, pelvis_height: float | None = None) -> str:
    """The MJCF text of `design` standing on a flat floor, with only the `actuated` joints free.

    Joints not in `actuated` are welded (their link stays, so mass and keypoints are unchanged).
    """
    actuated = design.joint_order if actuated is None else tuple(actuated)
    unknown = set(actuated) - set(design.joint_order)
    if unknown:
        raise ValueError(f"{design.model_name}: unknown joints {sorted(unknown)}")
    height = design.links[0].pos[2] if pelvis_height is None else pelvis_height
    root = ET.Element("mujoco", {"model": design.model_name})
    _header(root)
    _defaults_and_assets(root, design)
    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", {"name": "sun", "pos": "0 0 4", "dir": "0 0 -1", "directional": "true"})
    ET.SubElement(world, "geom", {"name": "floor", "type": "plane", "size": "0 0 0.05", "material": "floor", "group": "0"})
    _bodies(world, design, actuated, height)
    _contacts_and_actuators(root, design, actuated)
    default_pose = [design.default_position(j) for j in actuated]
    keyframe = ET.SubElement(root, "keyframe")
    ET.SubElement(keyframe, "key", {
        "name": "stand", "qpos": _fmt([0.0, 0.0, height, 1.0, 0.0, 0.0, 0.0] + default_pose), "ctrl": _fmt(default_pose),
    })
    ET.indent(root, space="  ")
    header = f"<!-- {design.title} for mimicjax. Generated by `{design.regenerate_command}`; edit that module, not this file. -->\n"
    return header + ET.tostring(root, encoding="unicode") + "\n"


def standing_pelvis_height(design: Design, actuated: tuple[str, ...] | None = None) -> float:
    """Pelvis height at which the default pose rests the soles on the floor."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(build_xml(design, actuated, pelvis_height=0.0))
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("stand").id)
    mujoco.mj_kinematics(model, data)
    lowest = min(
        data.geom_xpos[model.geom(f"{side}_{point}").id][2] - model.geom_size[model.geom(f"{side}_{point}").id][0]
        for side in ("left", "right")
        for point in design.sole_points
    )
    return round(-lowest, 6)
