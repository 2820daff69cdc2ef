"""One robot name everywhere: the registry, config and file compatibility with the names of earlier versions."""

from __future__ import annotations

import pytest

from mimicjax import config as config_lib
from mimicjax import robots
from mimicjax.config import ConfigError, ExperimentConfig
from mimicjax.envs.tracking import TrackingConfig


def test_every_robot_package_is_found():
    assert {"g1_29dof", "g1_23dof", "h1"} <= set(robots.names())
    h1 = robots.get("h1")
    assert h1 is robots.get("h1") and h1.name == "h1" and h1.num_joints == 19
    assert robots.get("g1_23dof").num_joints == 23 and robots.get("g1_29dof").num_joints == 29


def test_the_config_names_the_robot_and_refuses_unknown_ones():
    assert TrackingConfig(robot="h1").load_robot() is robots.get("h1")
    with pytest.raises(ValueError, match="unknown robot 'g2'; choose one of"):
        TrackingConfig(robot="g2")
    config = config_lib.apply_overrides(ExperimentConfig(), ["env.robot=h1"])
    assert config.env.robot == "h1"
    with pytest.raises(ConfigError, match="env.robot"):
        config_lib.apply_overrides(ExperimentConfig(), ["env.robot=nope"])


def test_the_old_variant_field_points_to_env_robot():
    with pytest.raises(ConfigError, match=r"'env.sim.variant' is now env.robot"):
        config_lib.apply_overrides(ExperimentConfig(), ["env.sim.variant=23dof"])
    saved = config_lib.to_dict(ExperimentConfig())
    saved["env"].pop("robot")
    saved["env"].pop("robot_mjcf")
    saved["env"]["sim"].update(variant="23dof", model_path=None)
    upgraded = config_lib.saved_experiment(saved)
    assert upgraded.env.robot == "g1_23dof" and upgraded.env.robot_mjcf is None


def test_motion_files_find_their_robot_by_joint_count(tmp_path):
    import numpy as np

    from mimicjax.motion.robot_files import MotionFormatError, load_robot_motion

    for name in ("h1", "g1_23dof"):
        robot = robots.get(name)
        table = np.concatenate([np.zeros((4, 3)), np.tile([0.0, 0.0, 0.0, 1.0], (4, 1)), np.tile(robot.default_pose, (4, 1))], 1)
        path = tmp_path / f"{name}.csv"
        np.savetxt(path, table, delimiter=",")
        assert load_robot_motion(path, fps=30).joint_names == robot.joint_names
    with pytest.raises(MotionFormatError, match=r"h1.csv.*19 joint values per frame; the Unitree G1 \(23-DoF\) has 23"):
        load_robot_motion(tmp_path / "h1.csv", fps=30, robot=robots.get("g1_23dof"))


def test_exported_policies_of_earlier_versions_name_their_robot():
    from mimicjax.deploy.onnx_export import robot_of_metadata

    assert robot_of_metadata({"robot": "unitree_g1", "variant": "23dof"}) is robots.get("g1_23dof")
    assert robot_of_metadata({"robot": "h1"}) is robots.get("h1")
