"""The project's G1 model: kinematic parity with the real robot's published model, spec, mirror, errors."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from mimicjax import robots
from mimicjax.robots import base
from mimicjax.robots.g1 import mjcf as g1_mjcf
from tests.conftest import reference_file
from tests.robots.model_helpers import body_positions, random_qpos

VARIANTS = ("29dof", "23dof")


@pytest.fixture(scope="module")
def menagerie():
    return mujoco.MjModel.from_xml_path(str(reference_file("g1/menagerie_unitree_g1/g1.xml")))


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_kinematics_matches_the_real_robot(menagerie, variant):
    """Every body present in both models within 1 mm over 100 random joint configurations."""
    model = robots.get(f"g1_{variant}").load_model()
    shared = [
        (i, menagerie.body(model.body(i).name).id)
        for i in range(1, model.nbody)
        if mujoco.mj_name2id(menagerie, mujoco.mjtObj.mjOBJ_BODY, model.body(i).name) >= 0
    ]
    assert len(shared) == model.nbody - 1 == menagerie.nbody - 1
    ref_qpos_adr = {menagerie.joint(j).name: menagerie.jnt_qposadr[j] for j in range(menagerie.njnt)}
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(100):
        ref_qpos = random_qpos(menagerie, rng)
        # The 23-DoF robot has its wrists welded at zero: compare against the same pose.
        qpos = np.zeros(model.nq)
        qpos[:7] = ref_qpos[:7]
        for j in range(1, model.njnt):
            name = model.joint(j).name
            qpos[model.jnt_qposadr[j]] = ref_qpos[ref_qpos_adr[name]]
        for name in g1_mjcf.WRIST_JOINTS:
            if variant == "23dof":
                ref_qpos[ref_qpos_adr[name]] = 0.0
        ours, theirs = body_positions(model, qpos), body_positions(menagerie, ref_qpos)
        for i, j in shared:
            worst = max(worst, float(np.abs(ours[i] - theirs[j]).max()))
    assert worst < 1e-3, f"max body position error {worst * 1000:.3f} mm"


def test_masses_inertias_and_joint_ranges_match(menagerie):
    model = robots.get("g1_29dof").load_model()
    for i in range(1, model.nbody):
        j = menagerie.body(model.body(i).name).id
        assert model.body_mass[i] == pytest.approx(menagerie.body_mass[j], rel=0.01), model.body(i).name
        np.testing.assert_allclose(model.body_inertia[i], menagerie.body_inertia[j], rtol=0.01)
        np.testing.assert_allclose(model.body_ipos[i], menagerie.body_ipos[j], atol=1e-6)
    for j in range(1, model.njnt):
        ref = menagerie.joint(model.joint(j).name)
        np.testing.assert_array_equal(model.jnt_range[j], ref.range)
        np.testing.assert_array_equal(model.jnt_axis[j], ref.axis)
        np.testing.assert_array_equal(model.jnt_actfrcrange[j], menagerie.jnt_actfrcrange[ref.id])
    assert model.body_subtreemass[1] == pytest.approx(menagerie.body_subtreemass[1], rel=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_model_is_built_for_mjx(variant):
    model = robots.get(f"g1_{variant}").load_model()
    assert model.nu == len(g1_mjcf.joint_names(variant)) == (29 if variant == "29dof" else 23)
    assert model.nv == model.nu + 6
    # Primitive collision geometry only, and contacts only through explicit pairs.
    primitives = {mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_SPHERE}
    assert {mujoco.mjtGeom(t) for t in model.geom_type} <= primitives
    assert not model.geom_contype.any() and not model.geom_conaffinity.any()
    pairs = {
        frozenset((model.geom(model.pair_geom1[i]).name, model.geom(model.pair_geom2[i]).name))
        for i in range(model.npair)
    }
    for side in ("left", "right"):
        assert all(frozenset((f"{side}_{p}", "floor")) in pairs for p in g1_mjcf.SOLE_POINTS)
    assert model.opt.timestep == pytest.approx(0.005)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    assert model.opt.iterations <= 5
    # The stand keyframe rests the soles on the floor without penetrating it.
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("stand").id)
    mujoco.mj_forward(model, data)
    floor_contacts = [c for c in data.contact[: data.ncon] if model.geom(c.geom1).name == "floor"]
    assert floor_contacts and all(-1e-4 < c.dist < 1e-3 for c in floor_contacts)
    assert all(c.dist > 0 for c in data.contact[: data.ncon] if model.geom(c.geom1).name != "floor")


def test_committed_mjcf_is_up_to_date():
    """The XML files in assets/ are exactly what the authoring module writes."""
    for variant in VARIANTS:
        expected = g1_mjcf.variant_xml(variant)
        assert robots.get(f"g1_{variant}").model_path.read_text() == expected, (
            f"assets/g1_{variant}.xml is stale: run `python -m mimicjax.robots.g1.mjcf`"
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_spec_gains_keypoints_and_defaults(variant):
    spec = robots.get(f"g1_{variant}")
    n = spec.num_joints
    assert spec.joint_names == g1_mjcf.joint_names(variant)
    for array in (spec.default_pose, spec.kp, spec.kd, spec.effort_limit, spec.action_scale, spec.armature):
        assert array.shape == (n,)
    # Gains from the armature: 10 Hz natural frequency, damping ratio 2.
    omega = 2 * np.pi * 10.0
    np.testing.assert_allclose(spec.kp, spec.armature * omega**2, rtol=1e-6)
    np.testing.assert_allclose(spec.kd, 2 * 2.0 * spec.armature * omega, rtol=1e-6)
    np.testing.assert_allclose(spec.action_scale, 0.25 * spec.effort_limit / spec.kp)
    assert np.all(spec.default_pose >= spec.joint_range[:, 0]) and np.all(spec.default_pose <= spec.joint_range[:, 1])
    model = robots.get(f"g1_{variant}").load_model()
    for body in spec.keypoint_bodies:
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body) >= 0
    weight = dict(zip(spec.keypoint_groups, spec.keypoint_weights))
    assert weight["end_effector"] > weight["upper"] > weight["lower"] > 0
    assert sorted(spec.keypoint_body_ids) == sorted(model.body(b).id for b in spec.keypoint_bodies)


def test_mirror_map_matches_the_verified_facts():
    import json

    facts = json.loads(reference_file("g1/g1_facts.json").read_text())["mirror"]["menagerie/g1.xml"]["joints"]
    spec = robots.get("g1_29dof")
    for fact in facts:
        i = spec.joint_names.index(fact["joint"])
        assert spec.joint_names[spec.mirror_perm[i]] == fact["partner"]
        assert spec.mirror_sign[i] == fact["sign"]


def test_mirror_works_on_jax_arrays():
    import jax
    import jax.numpy as jnp

    spec = robots.get("g1_29dof")
    qpos = jnp.asarray(robots.get("g1_29dof").load_model().key("stand").qpos, jnp.float32)
    mirrored = jax.jit(lambda q: base.mirror_qpos(spec, q))(qpos)
    # The stand pose is symmetric.
    np.testing.assert_allclose(np.asarray(mirrored), np.asarray(qpos), atol=1e-7)


def test_unknown_robot_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown robot '27dof'; choose one of .*g1_29dof.*g1_23dof.*"):
        robots.get("27dof")
    with pytest.raises(ValueError, match=r"did you mean 'g1_23dof'"):
        robots.get("23dof")


def test_missing_and_malformed_model_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Unitree G1 \(29-DoF\) model file not found: .*nope.xml"):
        robots.get("g1_29dof", tmp_path / "nope.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<mujoco><worldbody><body name='a'></worldbody></mujoco>")
    with pytest.raises(ValueError, match=r"cannot load the Unitree G1 \(29-DoF\) model .*broken.xml"):
        robots.get("g1_29dof", broken)
    other_robot = tmp_path / "pendulum.xml"
    other_robot.write_text(
        "<mujoco><worldbody><body><joint name='hinge'/><geom size='.1'/></body></worldbody>"
        "<actuator><position joint='hinge'/></actuator></mujoco>"
    )
    with pytest.raises(ValueError, match=r"pendulum.xml does not match the Unitree G1 \(29-DoF\)"):
        robots.get("g1_29dof", other_robot)


def test_a_custom_model_file_changes_physics_and_kinematics_together(tmp_path):
    """A longer shin in a modified copy moves the feet in the robot's kinematic tree, not only in the physics."""
    stock = robots.get("g1_23dof")
    text = stock.model_path.read_text()
    shin = '<body name="left_ankle_pitch_link" pos="0 -9.4445e-05 -0.30001"'
    assert shin in text
    custom = tmp_path / "g1_long_shin.xml"
    custom.write_text(text.replace(shin, '<body name="left_ankle_pitch_link" pos="0 -9.4445e-05 -0.40001"'))
    robot = robots.get("g1_23dof", custom)
    assert robot.model_path == custom and robot is robots.get("g1_23dof", custom)
    foot = robot.body_id("left_ankle_roll_link")
    qpos = stock.load_model().key("stand").qpos
    stock_pos, _ = stock.body_poses(qpos[:3], qpos[3:7], qpos[7:])
    custom_pos, _ = robot.body_poses(qpos[:3], qpos[3:7], qpos[7:])
    assert custom_pos[foot, 2] < stock_pos[foot, 2] - 0.09
