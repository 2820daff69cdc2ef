"""The policies the project ships (data/policies/) load, export to ONNX with actions equal to JAX's, and
the student tracks a sample clip in MuJoCo's C engine through the NumPy robot loop."""

from __future__ import annotations

import json

import pytest

from mimicjax import cli, demo


def test_a_teacher_and_a_student_are_shipped():
    from mimicjax.train.checkpoint import read_metadata
    from mimicjax.train.runs import POLICY_ONLY_KEY, checkpoints_dir

    for kind in ("teacher", "student"):
        folder = demo.shipped_policy_dir(kind)
        assert folder is not None, f"no shipped {kind} under {demo.POLICIES_DIR}"
        meta = read_metadata(checkpoints_dir(folder))
        assert meta["policy"] == kind and meta[POLICY_ONLY_KEY] is True  # exported: parameters and normaliser only
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        assert size < 4 * 2**20, f"{folder} holds {size / 2**20:.1f} MB"


def test_the_shipped_student_exports_and_tracks_in_mujoco_c(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from mimicjax.train.loop import sample_library_path

    student = demo.shipped_policy_dir("student")
    assert student is not None
    policy = tmp_path / "student.onnx"
    assert cli.main(["export", "--run-dir", str(student), "--out", str(policy)]) == 0  # checked against JAX inside
    assert "onnxruntime matches the JAX policy" in capsys.readouterr().out
    out = tmp_path / "sim2sim.json"
    assert cli.main(["sim2sim", "--onnx", str(policy), "--motions", str(sample_library_path("g1_23dof")),
                     "--clip", "1", "--json", str(out)]) == 0  # the wave, 3 s
    result = json.loads(out.read_text())
    episode = result["per_episode"][0]
    assert episode["name"] == "wave" and episode["success"], episode
    assert episode["keypoint_error"]["mean"] < 0.08


def test_the_onnx_student_equals_jax_on_observations_recorded_in_mujoco_c(tmp_path):
    """Observations the NumPy robot loop built while the exported student walked in MuJoCo (C), fed to the
    ONNX graph and to the JAX policy: the same actions within 1e-5."""
    pytest.importorskip("onnxruntime")
    import onnx

    from mimicjax.deploy.observation import ReferenceMotion
    from mimicjax.deploy.onnx_export import student_onnx, verify_onnx
    from mimicjax.deploy.sim2sim import Sim2Sim
    from mimicjax.eval.rollout import load_policy
    from mimicjax.train.loop import sample_library_path

    policy = load_policy(demo.shipped_policy_dir("student"))
    model = student_onnx(policy)
    path = tmp_path / "student.onnx"
    onnx.save(model, str(path))
    recorded = []
    Sim2Sim(path).run_episode(ReferenceMotion.load(sample_library_path("g1_23dof")), clip=0, observations=recorded)
    assert len(recorded) > 50
    assert verify_onnx(model, policy, samples=1, observations=recorded) <= 1e-5
