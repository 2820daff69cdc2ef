"""Interactive 3-D replays of evaluation episodes as one web page, in Brax's three.js viewer.

    mimicjax eval --run-dir data/policies/g1_23dof_student --html replay.html --video-clip all

The page shows what the mp4 of `mimicjax.eval.render` shows (the simulated robot, the reference as a
translucent green ghost, the goal keypoints as red spheres) but can be turned, zoomed and scrubbed, and
it needs no OpenGL on the machine that writes it (a browser draws it; the viewer's script is loaded
from Brax's CDN, so the page needs a network connection to open). In a notebook,
`IPython.display.HTML(replay_html(...))` shows it inline.

The viewer draws a Brax `System` (bodies and their geoms) at a list of states (each body's world
position and orientation). The replay model is the robot's MJCF plus, as fixed-free "mocap" bodies, one
ghost body per robot body (same geoms, recoloured) and one sphere per keypoint; MuJoCo's kinematics poses
all of them frame by frame.
"""

from __future__ import annotations

import contextlib
import io
import types
import warnings
from pathlib import Path

import numpy as np

from mimicjax.eval.render import GHOST_RGBA

KEYPOINT_RGBA = (0.9, 0.1, 0.1, 1.0)
KEYPOINT_RADIUS = 0.03  # m


def replay_model(robot, mj_model, num_keypoints: int, ghost: bool):
    """(MjModel, ghost body ids [B] (robot body b -> its ghost), keypoint body ids [K]) of the replay scene;
    `mj_model` is the `Robot`'s own MjModel (`robot.load_model()`)."""
    import mujoco

    spec = mujoco.MjSpec.from_file(str(robot.model_path))
    ghost_names = []
    if ghost:
        for body in range(1, mj_model.nbody):
            name = f"ghost/{mj_model.body(body).name}"
            ghost_body = spec.worldbody.add_body(name=name, mocap=True)
            for geom in np.flatnonzero(mj_model.geom_bodyid == body):
                ghost_body.add_geom(type=mujoco.mjtGeom(int(mj_model.geom_type[geom])), size=mj_model.geom_size[geom],
                                    pos=mj_model.geom_pos[geom], quat=mj_model.geom_quat[geom], rgba=GHOST_RGBA,
                                    contype=0, conaffinity=0)
            ghost_names.append(name)
    keypoint_names = []
    for k in range(num_keypoints):
        name = f"goal/{k}"
        spec.worldbody.add_body(name=name, mocap=True).add_geom(
            type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[KEYPOINT_RADIUS, 0, 0], rgba=KEYPOINT_RGBA, contype=0, conaffinity=0)
        keypoint_names.append(name)
    model = spec.compile()
    return model, [model.body(n).id for n in ghost_names], [model.body(n).id for n in keypoint_names]


def body_poses(robot, segments) -> tuple[object, np.ndarray, np.ndarray]:
    """(replay model, positions [F, nbody - 1, 3], quaternions wxyz [F, nbody - 1, 4]) of every frame of
    every `render.Segment` in turn."""
    import mujoco

    segments = list(segments)
    if not segments:
        raise ValueError("a replay needs at least one episode")
    keypoints = [s.keypoints for s in segments if s.keypoints is not None]
    num_keypoints = keypoints[0].shape[1] if keypoints else 0
    ghost = any(s.ghost_qpos is not None for s in segments)
    mj_model = robot.load_model()
    model, ghost_ids, keypoint_ids = replay_model(robot, mj_model, num_keypoints, ghost)
    data, reference = mujoco.MjData(model), mujoco.MjData(mj_model)
    positions, rotations = [], []
    for segment in segments:
        for t in range(len(segment.qpos)):
            data.qpos[:] = segment.qpos[t]
            if segment.ghost_qpos is not None:
                reference.qpos[:] = segment.ghost_qpos[t]
                mujoco.mj_kinematics(mj_model, reference)
                for body, ghost_body in enumerate(ghost_ids, start=1):
                    mocap = model.body_mocapid[ghost_body]
                    data.mocap_pos[mocap], data.mocap_quat[mocap] = reference.xpos[body], reference.xquat[body]
            for k, body in enumerate(keypoint_ids):
                # Episodes without keypoints hide the spheres below the floor.
                point = segment.keypoints[t, k] if segment.keypoints is not None else (0.0, 0.0, -10.0)
                data.mocap_pos[model.body_mocapid[body]] = point
            mujoco.mj_kinematics(model, data)
            positions.append(data.xpos[1:].copy())
            rotations.append(data.xquat[1:].copy())
    return model, np.stack(positions), np.stack(rotations)


def _quiet_brax():
    """Brax's `base`, `io.html` and `io.mjcf`, without its import-time messages (Warp probing, maintenance
    notice)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from brax import base
        from brax.io import html as brax_html
        from brax.io import mjcf

    return base, brax_html, mjcf


def replay_html(robot, segments, height: int | str = 480) -> str:
    """The page (HTML text) replaying `render.Segment`s one after another."""
    base, brax_html, mjcf = _quiet_brax()
    model, positions, rotations = body_poses(robot, segments)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Brax's notice that its own pipelines are unmaintained
        system = mjcf.load_model(model)
    # The viewer reads only `state.x` (each body's pose), so a light stand-in for brax.base.State does.
    states = [types.SimpleNamespace(x=base.Transform(pos=pos, rot=rot)) for pos, rot in zip(positions, rotations)]
    return brax_html.render(system, states, height=height, colab=False)


def write_html(out: str | Path, robot, segments, height: int | str = 480) -> int:
    """Write the replay of `segments` to `out` atomically. Returns the number of frames."""
    from mimicjax.io_utils import atomic_write_text

    segments = list(segments)
    atomic_write_text(out, replay_html(robot, segments, height))
    return sum(len(s.qpos) for s in segments)
