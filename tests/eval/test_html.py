"""Interactive replays (`mimicjax eval --html`): every body posed by MuJoCo's kinematics, in Brax's viewer."""

from __future__ import annotations

import base64
import json
import re
import zlib

import mujoco
import numpy as np
import pytest

from mimicjax import robots
from mimicjax.eval import html, render

ROBOT = robots.get("g1_23dof")


def decode_page(page: str) -> dict:
    """The system and trajectory JSON that the page hands to the viewer."""
    encoded = re.search(r'var system = "([^"]+)"', page).group(1)
    return json.loads(zlib.decompress(base64.b64decode(encoded)))


@pytest.fixture(scope="module")
def segment():
    robot = ROBOT.load_model()
    frames = 4
    qpos = np.tile(robot.key("stand").qpos, (frames, 1))
    qpos[:, 0] = np.linspace(0.0, 0.3, frames)
    ghost = qpos.copy()
    ghost[:, 1] += 0.25
    ghost[:, 7] += 0.4  # the ghost's first joint bends, the robot's does not
    keypoints = np.random.default_rng(0).normal(size=(frames, 14, 3))
    return render.Segment(qpos, ghost, keypoints)


def test_robot_ghost_and_keypoints_are_where_kinematics_puts_them(segment):
    robot = ROBOT.load_model()
    model, positions, rotations = html.body_poses(ROBOT, [segment])
    bodies = robot.nbody - 1
    assert positions.shape == (4, model.nbody - 1, 3) and model.nbody - 1 == 2 * bodies + 14
    data = mujoco.MjData(robot)
    for t in (0, 3):
        for qpos, block in ((segment.qpos[t], slice(0, bodies)), (segment.ghost_qpos[t], slice(bodies, 2 * bodies))):
            data.qpos[:] = qpos
            mujoco.mj_kinematics(robot, data)
            np.testing.assert_allclose(positions[t, block], data.xpos[1:], atol=1e-9)
            np.testing.assert_allclose(np.abs(np.sum(rotations[t, block] * data.xquat[1:], -1)), 1.0, atol=1e-9)
        np.testing.assert_allclose(positions[t, 2 * bodies:], segment.keypoints[t], atol=1e-12)
    # The ghost has the robot's geoms, recoloured, and touches nothing.
    ghost_geoms = np.flatnonzero(np.isin(model.geom_bodyid, np.arange(robot.nbody, robot.nbody + bodies)))
    assert len(ghost_geoms) == np.sum(robot.geom_bodyid > 0)
    np.testing.assert_allclose(model.geom_rgba[ghost_geoms], np.tile(render.GHOST_RGBA, (len(ghost_geoms), 1)), atol=1e-6)
    assert not model.geom_contype[ghost_geoms].any() and not model.geom_conaffinity[ghost_geoms].any()


def test_the_page_holds_every_frame_of_every_episode(segment, tmp_path):
    plain = render.Segment(segment.qpos[:2])  # no ghost, no keypoints: still a replay
    out = tmp_path / "replay.html"
    assert html.write_html(out, ROBOT, [segment, plain]) == 6
    page = out.read_text()
    assert "brax/visualizer/js/viewer.js" in page
    scene = decode_page(page)
    assert len(scene["states"]["x"]) == 6
    first = np.asarray(scene["states"]["x"][0]["pos"])
    np.testing.assert_allclose(first[0], segment.qpos[0, :3], atol=1e-9)  # the pelvis
    assert set(scene["geoms"]) >= {"pelvis", "ghost/pelvis", "goal/0"}
    with pytest.raises(ValueError, match="at least one episode"):
        html.write_html(tmp_path / "none.html", ROBOT, [])
    assert not list(tmp_path.glob(".*"))  # written atomically
