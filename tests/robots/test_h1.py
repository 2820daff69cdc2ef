"""The project's Unitree H1: committed model, robot object, mirror map, standing, parity with the published model."""

from __future__ import annotations

import os
from pathlib import Path

import mujoco
import numpy as np
import pytest

from mimicjax import robots
from mimicjax.robots import base
from mimicjax.robots.h1 import mjcf as h1_mjcf
from mimicjax.robots.mjcf_builder import side_less
from tests.conftest import REFERENCE_DIR
from tests.robots.model_helpers import body_positions, random_qpos

# The published H1 model (MuJoCo Menagerie `unitree_h1/h1.xml`); its meshes are not needed.
MENAGERIE_ENV_VAR = "MIMICJAX_MENAGERIE_H1"
MENAGERIE_DEFAULT = REFERENCE_DIR / "h1" / "h1.xml"
MENAGERIE_TOTAL_MASS = 51.437  # kg, the sum of the Menagerie model's link masses
UNITREE_PUBLISHED_MASS = 47.0  # kg, Unitree's H1 specification

# Mirror sign per joint kind: pitch-like joints (axis y) keep their sign, roll and yaw joints flip.
MIRROR_SIGN = {"hip_yaw": -1, "hip_roll": -1, "hip_pitch": 1, "knee": 1, "ankle": 1, "torso": -1,
               "shoulder_pitch": 1, "shoulder_roll": -1, "shoulder_yaw": -1, "elbow": 1}  # fmt: skip


@pytest.fixture(scope="module")
def h1():
    return robots.get("h1")


@pytest.fixture(scope="module")
def model(h1):
    return h1.load_model()


def joint_kind(name: str) -> str:
    return side_less(name).removesuffix("_joint")


# ---- the committed model ------------------------------------------------------------------------


def test_committed_mjcf_is_up_to_date(tmp_path):
    """assets/h1.xml is exactly what `python -m mimicjax.robots.h1.mjcf` writes."""
    (written,) = h1_mjcf.write_assets(tmp_path)
    committed = h1_mjcf.ASSETS_DIR / h1_mjcf.MODEL_FILE
    assert committed.read_text() == written.read_text(), "assets/h1.xml is stale: run `python -m mimicjax.robots.h1.mjcf`"


def test_model_is_built_for_mjx(model):
    assert model.nu == 19 and model.nv == model.nu + 6
    primitives = {mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_SPHERE}
    assert {mujoco.mjtGeom(t) for t in model.geom_type} <= primitives
    assert not model.geom_contype.any() and not model.geom_conaffinity.any()
    pairs = {frozenset((model.geom(model.pair_geom1[i]).name, model.geom(model.pair_geom2[i]).name))
             for i in range(model.npair)}  # fmt: skip
    for side in ("left", "right"):
        assert all(frozenset((f"{side}_{p}", "floor")) in pairs for p in h1_mjcf.SOLE_POINTS)
    # The stand keyframe rests the soles on the floor, touching nothing else.
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("stand").id)
    mujoco.mj_forward(model, data)
    floor_contacts = [c for c in data.contact[: data.ncon] if model.geom(c.geom1).name == "floor"]
    assert len(floor_contacts) == 2 * len(h1_mjcf.SOLE_POINTS)
    assert all(-1e-4 < c.dist < 1e-3 for c in floor_contacts)
    assert data.ncon == len(floor_contacts)


# ---- the robot object ---------------------------------------------------------------------------


def test_robot_is_registered_and_complete(h1, model):
    assert "h1" in robots.names()
    assert h1.title == "Unitree H1" and h1.num_joints == 19
    assert h1.joint_names == h1_mjcf.joint_names()
    assert h1.body_names[0] == "pelvis" and {"left_hand_link", "right_hand_link"} <= set(h1.body_names)
    assert model.body_subtreemass[1] == pytest.approx(MENAGERIE_TOTAL_MASS, abs=1e-6)
    assert model.body_subtreemass[1] == pytest.approx(UNITREE_PUBLISHED_MASS, rel=0.1)
    for body in (*h1.keypoint_bodies, *h1.feet, h1.torso):
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body) == h1.body_id(body)
    weight = dict(zip(h1.keypoint_groups, h1.keypoint_weights))
    assert weight["end_effector"] > weight["upper"] > weight["lower"] > 0
    low, high = h1.joint_range.T
    assert np.all(h1.default_pose >= low) and np.all(h1.default_pose <= high)
    for site, body, _, _ in h1.smpl.sites:
        h1.body_id(body)
        assert site in {s for bone in h1.smpl.bones for s in bone}
    assert set(h1.smpl.limbs) == {f"{side}_{limb}" for side in ("left", "right")
                                  for limb in ("thigh", "shin", "upper_arm", "forearm")}  # fmt: skip


def test_gains_match_published_h1_setups(h1):
    """Legs and torso at the 10 Hz armature rule; ankles and arms at 3.2 Hz (kp about 40)."""
    families = {name: h1_mjcf.JOINT_MOTOR[joint_kind(name)] for name in h1.joint_names}
    for i, name in enumerate(h1.joint_names):
        motor = h1_mjcf.MOTORS[families[name]]
        omega = 2 * np.pi * motor.natural_frequency_hz
        assert h1.kp[i] == pytest.approx(h1.armature[i] * omega**2, rel=1e-6)
        assert h1.kd[i] == pytest.approx(2 * 2.0 * h1.armature[i] * omega, rel=1e-6)
        published = (150.0, 400.0) if families[name] in ("hip", "knee", "torso") else (20.0, 100.0)
        assert published[0] <= h1.kp[i] <= published[1], name
    np.testing.assert_allclose(h1.action_scale, 0.25 * h1.effort_limit / h1.kp)


def test_tpose_puts_the_arms_out_sideways_and_straight(h1, model):
    qpos = np.concatenate([[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0], h1.smpl.tpose_joint_pos(h1.joint_names)])
    pos = body_positions(model, qpos)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder, elbow, hand = (pos[h1.body_id(f"{side}_{b}")] for b in ("shoulder_roll_link", "elbow_link", "hand_link"))
        for a, b in ((shoulder, elbow), (elbow, hand)):
            direction = (b - a) / np.linalg.norm(b - a)
            assert direction[1] * sign > 0.99  # along +y (left) or -y (right)
        hip, knee, ankle = (pos[h1.body_id(f"{side}_{b}")] for b in ("hip_pitch_link", "knee_link", "ankle_link"))
        np.testing.assert_allclose(hip[:2], ankle[:2], atol=1e-9)
        np.testing.assert_allclose(knee[:2], ankle[:2], atol=1e-9)


# ---- mirror map ---------------------------------------------------------------------------------


def test_mirror_map_pairs_sides_and_flips_roll_and_yaw(h1):
    for i, name in enumerate(h1.joint_names):
        assert h1.joint_names[h1.mirror_perm[i]] == base.partner_name(name)
        assert h1.mirror_sign[i] == MIRROR_SIGN[joint_kind(name)], name
    assert np.all(h1.mirror_perm[h1.mirror_perm] == np.arange(h1.num_joints))


# ---- standing -----------------------------------------------------------------------------------

# A free-standing H1 is an inverted pendulum on its ankles (m g h about 490 N m/rad against 2 x 40 N m/rad
# at the training gains), so only a balance policy keeps it up; PD alone holds the pose at three times
# the natural frequency, as for the G1 (tests/envs/test_sim.py).
STAND_FREQUENCY_SCALE = 3.0


def test_robot_holds_the_stand_pose_for_5_seconds(h1):
    model = h1.load_model()
    model.actuator_gainprm[:, 0] *= STAND_FREQUENCY_SCALE**2
    model.actuator_biasprm[:, 1] *= STAND_FREQUENCY_SCALE**2
    model.actuator_biasprm[:, 2] *= STAND_FREQUENCY_SCALE
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("stand").id)
    data.qpos[7:] += np.random.default_rng(4).uniform(-0.05, 0.05, model.nu)
    start_height = model.key("stand").qpos[2]
    for _ in range(int(round(5.0 / model.opt.timestep))):
        mujoco.mj_step(model, data)
        assert abs(data.qpos[2] - start_height) < 0.03, "the pelvis moved more than 3 cm"
    w, x, y, z = data.qpos[3:7]
    assert 1 - 2 * (x * x + y * y) > np.cos(np.radians(10))  # upright within 10 degrees


# ---- parity with the published model ------------------------------------------------------------


def menagerie_path() -> Path:
    path = Path(os.environ.get(MENAGERIE_ENV_VAR) or MENAGERIE_DEFAULT)
    if not path.is_file():
        pytest.skip(f"the Menagerie H1 model is not available: {path} (set {MENAGERIE_ENV_VAR} to its h1.xml)")
    return path


@pytest.fixture(scope="module")
def menagerie():
    """The Menagerie H1 without its meshes (forward kinematics needs only the tree)."""
    spec = mujoco.MjSpec.from_file(str(menagerie_path()))
    for geom in [g for g in spec.geoms if g.type == mujoco.mjtGeom.mjGEOM_MESH]:
        spec.delete(geom)
    for mesh in list(spec.meshes):
        spec.delete(mesh)
    return spec.compile()


def menagerie_joint(name: str) -> str:
    """The Menagerie names joints without Unitree's `_joint` suffix."""
    return name.removesuffix("_joint")


def test_forward_kinematics_matches_the_published_model(h1, model, menagerie):
    """Every Menagerie body within 1 mm over 100 random poses, in MuJoCo and in the JAX kinematics."""
    from mimicjax.robots.kinematics import forward_kinematics

    shared = [(h1.body_id(menagerie.body(j).name), j) for j in range(1, menagerie.nbody)]
    assert len(shared) == menagerie.nbody - 1 == model.nbody - 3  # all but the two hand links
    ours_idx, theirs_idx = (np.array(ids) for ids in zip(*shared))
    adr = [menagerie.joint(menagerie_joint(name)).qposadr[0] for name in h1.joint_names]
    rng = np.random.default_rng(0)
    ref_qpos = np.stack([random_qpos(menagerie, rng) for _ in range(100)])
    qpos = np.concatenate([ref_qpos[:, :7], ref_qpos[:, adr]], axis=1)
    theirs = np.stack([body_positions(menagerie, q)[theirs_idx] for q in ref_qpos])
    ours = np.stack([body_positions(model, q)[ours_idx] for q in qpos])
    jax_pos, _ = forward_kinematics(h1.tree, qpos[:, :3], qpos[:, 3:7], qpos[:, 7:])
    worst_mujoco = float(np.abs(ours - theirs).max())
    worst_jax = float(np.abs(np.asarray(jax_pos)[:, ours_idx] - theirs).max())
    assert worst_mujoco < 1e-3 and worst_jax < 1e-3, f"max error {worst_mujoco * 1e3:.4f} mm (MuJoCo), {worst_jax * 1e3:.4f} mm (JAX)"


def test_masses_inertias_limits_and_torques_match_the_published_model(h1, model, menagerie):
    for j in range(1, menagerie.nbody):
        i = h1.body_id(menagerie.body(j).name)
        name = menagerie.body(j).name
        assert model.body_mass[i] == pytest.approx(menagerie.body_mass[j], rel=1e-6), name
        np.testing.assert_allclose(model.body_inertia[i], menagerie.body_inertia[j], rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(model.body_ipos[i], menagerie.body_ipos[j], atol=1e-6, err_msg=name)
    assert model.body_subtreemass[1] == pytest.approx(menagerie.body_subtreemass[1], rel=1e-9)
    for i, name in enumerate(h1.joint_names):
        ref = menagerie.joint(menagerie_joint(name))
        np.testing.assert_array_equal(h1.joint_range[i], ref.range)
        np.testing.assert_array_equal(model.joint(name).axis, ref.axis)
        actuator = menagerie.actuator(menagerie_joint(name))
        assert h1.effort_limit[i] == actuator.ctrlrange[1] == -actuator.ctrlrange[0]
        assert h1.armature[i] == pytest.approx(menagerie.dof_armature[ref.dofadr[0]])
