"""`mimicjax export --out POLICY.onnx`: the student as one ONNX graph whose actions equal the JAX policy's
(onnxruntime, 1e-5), with the metadata a controller needs. Uses the session's tiny student run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mimicjax import cli

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(student, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "student.onnx"
    assert cli.main(["export", "--run-dir", str(student.run_dir), "--out", str(out)]) == 0
    return out


def test_onnx_actions_equal_the_jax_policy(student, exported):
    import jax.numpy as jnp

    from mimicjax.deploy.onnx_export import read_metadata
    from mimicjax.eval.rollout import load_policy
    from mimicjax.rl import dagger

    policy = load_policy(student.run_dir)
    meta = read_metadata(exported)
    size = json.loads(meta["observation_size"])
    rng = np.random.default_rng(1)
    obs = np.concatenate([rng.normal(size=(32, size)), 50 * rng.normal(size=(4, size))]).astype(np.float32)  # beyond the clip
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    action, target = session.run(["action", "joint_pos_target"], {"obs": obs})
    expected = np.asarray(dagger.student_mean_action(policy.state, jnp.asarray(obs)))
    np.testing.assert_allclose(action, expected, atol=1e-5)
    default, scale = np.array(json.loads(meta["default_joint_pos"])), np.array(json.loads(meta["action_scale"]))
    np.testing.assert_allclose(target, default + action * scale, atol=1e-5)


def test_the_metadata_describes_robot_observation_and_run(student, exported):
    from mimicjax.deploy.onnx_export import config_hash, read_metadata
    from mimicjax.envs import observations as obs_lib

    model = onnx.load(str(exported))
    assert model.opset_import[0].version == 11 and [i.name for i in model.graph.input] == ["obs"]
    meta = {key: (value if key in ("robot", "anchor_body_name", "action_space", "exporter", "exporter_version",
                                   "config_hash") else json.loads(value)) for key, value in read_metadata(model).items()}
    spec = student.config.env.load_robot()
    assert meta["robot"] == student.config.env.robot and meta["joint_names"] == list(spec.joint_names)
    assert meta["kp"] == pytest.approx(spec.kp.tolist()) and meta["joint_damping"] == pytest.approx(spec.kd.tolist())
    assert meta["effort_limit"] == pytest.approx(spec.effort_limit.tolist()) and meta["anchor_body_name"] == "pelvis"
    assert meta["control_dt"] == pytest.approx(0.02) and meta["history_length"] == student.config.env.observations.history
    layout = obs_lib.student_layout(spec.num_joints, len(spec.keypoint_bodies), student.config.env.observations)
    assert [block["name"] for block in meta["observation_layout"]] == [block.name for block in layout]
    assert meta["observation_size"] == obs_lib.layout_size(layout) == sum(b["size"] for b in meta["observation_layout"])
    assert meta["keypoint_groups"] == list(spec.keypoint_groups) and meta["config_hash"] == config_hash(student.config)
    assert meta["terminations"]["max_keypoint_error"] == student.config.env.terminations.max_keypoint_error


def test_only_a_student_exports_to_onnx_and_nothing_is_overwritten(teacher_dir, exported, capsys):
    assert cli.main(["export", "--run-dir", str(teacher_dir), "--out", str(exported.with_name("teacher.onnx"))]) == 2
    assert "ONNX export is for the deployable student" in capsys.readouterr().err
    assert not exported.with_name("teacher.onnx").exists()
    assert cli.main(["export", "--run-dir", str(teacher_dir), "--out", str(exported)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_sim2sim_names_what_is_wrong_with_a_policy_file(exported, tmp_path, capsys):
    from mimicjax.train.loop import sample_library_path

    motions = str(sample_library_path("g1_23dof"))

    def sim2sim(path):
        status = cli.main(["sim2sim", "--onnx", str(path), "--motions", motions, "--clip", "0"])
        return status, capsys.readouterr().err

    text = tmp_path / "text.onnx"
    text.write_text("not a model")
    status, err = sim2sim(text)
    assert status == 2 and "text.onnx: not an ONNX model" in err

    model = onnx.load(str(exported))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    status, err = sim2sim(bare)
    assert status == 2 and "lacks metadata" in err and "mimicjax export" in err

    model = onnx.load(str(exported))
    for prop in model.metadata_props:  # the metadata now describes a longer history than the graph takes
        if prop.key == "history_length":
            prop.value = str(int(prop.value) + 1)
    mismatched = tmp_path / "mismatched.onnx"
    onnx.save(model, str(mismatched))
    status, err = sim2sim(mismatched)
    assert status == 2 and "takes observations of size" in err and "export it again" in err
    assert "Traceback" not in err

    # A library of the other G1 (29 joints for a 23-DoF student): named, not a broadcast error mid-episode.
    status = cli.main(["sim2sim", "--onnx", str(exported), "--motions", str(sample_library_path("g1_29dof")), "--clip", "0"])
    err = capsys.readouterr().err
    assert status == 2 and "29-joint robot, but the policy" in err and "--robot g1_23dof" in err
