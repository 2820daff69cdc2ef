"""The student as one ONNX graph with everything a robot controller needs in its metadata.

    model = student_onnx(policy)            # policy = mimicjax.eval.rollout.load_policy(STUDENT_RUN)
    onnx.save(model, "policy.onnx")          # `mimicjax export --run-dir STUDENT --out policy.onnx`

Graph (opset 11, built with `onnx.helper`): input `obs` [N, D] float32, the raw student observation
(`mimicjax.deploy.observation`), -> the observation normaliser ((obs - mean) / std, clipped) -> the
actor MLP (ELU) -> output `action` [N, A], the policy's mean action, and `joint_pos_target` [N, A] =
default_joint_pos + action * action_scale, the PD targets the env sends to the joints (the robot's own
joint limits clip them, as MuJoCo's control range does in the env).

Metadata (`metadata_props`; lists and numbers as JSON text): robot (the `robots.get` name), joint_names, kp, kd,
effort_limit, default_joint_pos, action_scale, control_dt, observation_names/observation_layout (name,
shape, start, size of every block, in order), history_length, goal_offsets, keypoint_bodies,
keypoint_groups, anchor_body_name, observation_clip, physics_dt, solver_iterations,
line_search_iterations, terminations, episode_seconds (how it was simulated and judged: `mimicjax
sim2sim` reads these), exporter, exporter_version, config_hash, checkpoint. Keys follow mjlab/BeyondMimic's where they exist (joint_names, joint_stiffness,
joint_damping, default_joint_pos, action_scale, anchor_body_name), so their deploy code reads them too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from mimicjax.config import ConfigError

OPSET = 11
INPUT, ACTION, TARGET = "obs", "action", "joint_pos_target"


def config_hash(config) -> str:
    """sha256 of the resolved config's JSON (sorted keys): which run a policy file came from."""
    from mimicjax.config import to_dict

    return hashlib.sha256(json.dumps(to_dict(config), sort_keys=True).encode()).hexdigest()


def policy_metadata(policy) -> dict[str, str]:
    """The controller-facing description of a student policy, as ONNX metadata (str -> str)."""
    from mimicjax import __version__
    from mimicjax.envs import observations as obs_lib

    config = policy.config
    spec = config.env.load_robot()
    obs = config.env.observations
    layout = obs_lib.student_layout(spec.num_joints, len(spec.keypoint_bodies), obs)
    values = {
        "robot": spec.name,
        "joint_names": list(spec.joint_names),
        "kp": spec.kp.tolist(),
        "kd": spec.kd.tolist(),
        "joint_stiffness": spec.kp.tolist(),
        "joint_damping": spec.kd.tolist(),
        "effort_limit": spec.effort_limit.tolist(),
        "default_joint_pos": spec.default_pose.tolist(),
        "action_scale": spec.action_scale.tolist(),
        "control_dt": 1.0 / config.env.sim.control_hz,
        # How the policy was simulated and judged, so that sim2sim in MuJoCo's C engine does the same.
        "physics_dt": 1.0 / config.env.sim.physics_hz,
        "solver_iterations": config.env.sim.solver_iterations,
        "line_search_iterations": config.env.sim.line_search_iterations,
        "terminations": dataclasses.asdict(config.env.terminations),
        "episode_seconds": config.env.episode_seconds,
        "observation_names": [block.name for block in layout],
        "observation_layout": obs_lib.layout_table(layout),
        "observation_size": obs_lib.layout_size(layout),
        "history_length": obs.history,
        "goal_offsets": list(obs.student_goal_offsets),
        "observation_clip": obs.clip,
        "keypoint_bodies": list(spec.keypoint_bodies),
        "keypoint_groups": list(spec.keypoint_groups),
        "anchor_body_name": spec.root_body,  # the root: every student observation and goal is relative to it
        "action_space": "joint_pos_target = default_joint_pos + action * action_scale",
        "exporter": "mimicjax",
        "exporter_version": __version__,
        "config_hash": config_hash(config),
        "checkpoint": policy.step,
    }
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def _mlp_layers(params: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) of the actor's mean MLP, input to output."""
    mlp = params["mean"]
    hidden = sorted((name for name in mlp if name.startswith("hidden_")), key=lambda name: int(name.split("_")[1]))
    return [(np.asarray(mlp[name]["kernel"], np.float32), np.asarray(mlp[name]["bias"], np.float32))
            for name in (*hidden, "output")]


def student_onnx(policy):
    """The ONNX model of a restored student `Policy` (`mimicjax.eval.rollout.load_policy`)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if policy.kind != "student":
        raise ConfigError(f"{policy.run_dir} holds a {policy.kind}; ONNX export is for the deployable student "
                          f"(distil one with `mimicjax distill`)")
    state = policy.state
    if state.actor.activation != "elu":
        raise ConfigError(f"the exporter writes ELU networks; this student uses {state.actor.activation!r}")
    spec = policy.config.env.load_robot()
    layers = _mlp_layers(jax_to_numpy(state.params))
    obs_size = layers[0][0].shape[0]
    action_size = layers[-1][0].shape[1]

    initializers, nodes = [], []

    def const(name, value):
        initializers.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    x = INPUT
    if state.obs_normalization.enabled:
        stats = jax_to_numpy(state.obs_stats)
        count = float(stats.count)
        variance = np.where(count > 0, stats.m2 / max(count, 1.0), 1.0)
        std = np.maximum(np.sqrt(variance), 1e-6)  # `normalization.normalize`'s min_std
        clip = state.obs_normalization.clip
        nodes += [
            helper.make_node("Sub", [x, const("obs_mean", stats.mean)], ["obs_centered"]),
            helper.make_node("Div", ["obs_centered", const("obs_std", std)], ["obs_scaled"]),
        ]
        x = "obs_scaled"
        if clip is not None:
            nodes.append(helper.make_node("Clip", [x, const("obs_clip_low", -clip), const("obs_clip_high", clip)],
                                          ["obs_normalized"]))
            x = "obs_normalized"
    for i, (kernel, bias) in enumerate(layers):
        last = i == len(layers) - 1
        nodes += [
            helper.make_node("MatMul", [x, const(f"layer{i}_kernel", kernel)], [f"layer{i}_matmul"]),
            helper.make_node("Add", [f"layer{i}_matmul", const(f"layer{i}_bias", bias)],
                             [ACTION if last else f"layer{i}_linear"]),
        ]
        if not last:
            nodes.append(helper.make_node("Elu", [f"layer{i}_linear"], [f"layer{i}_out"], alpha=1.0))
            x = f"layer{i}_out"
    nodes += [
        helper.make_node("Mul", [ACTION, const("action_scale", spec.action_scale)], ["scaled_action"]),
        helper.make_node("Add", ["scaled_action", const("default_joint_pos", spec.default_pose)], [TARGET]),
    ]
    graph = helper.make_graph(
        nodes, "mimicjax_student",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", obs_size])],
        [helper.make_tensor_value_info(ACTION, TensorProto.FLOAT, ["batch", action_size]),
         helper.make_tensor_value_info(TARGET, TensorProto.FLOAT, ["batch", action_size])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mimicjax")
    model.ir_version = 7  # readable by onnxruntime releases back to 1.8
    helper.set_model_props(model, policy_metadata(policy))
    onnx.checker.check_model(model)
    return model


def verify_onnx(model, policy, samples: int = 64, tolerance: float = 1e-5, observations=None) -> float:
    """Largest |onnxruntime action - JAX action| over random observations (plus `observations`, e.g.
    recorded ones); raises when it exceeds `tolerance`."""
    import jax.numpy as jnp
    import onnxruntime

    from mimicjax.rl import dagger

    size = int(model.graph.input[0].type.tensor_type.shape.dim[1].dim_value)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(samples, size)).astype(np.float32)
    if observations is not None:
        obs = np.concatenate([obs, np.asarray(observations, np.float32).reshape(-1, size)])
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_action = session.run([ACTION], {INPUT: obs})[0]
    jax_action = np.asarray(dagger.student_mean_action(policy.state, jnp.asarray(obs)))
    error = float(np.max(np.abs(onnx_action - jax_action)))
    if not error <= tolerance:
        raise ValueError(f"the ONNX graph differs from the JAX policy by {error:.3g} (> {tolerance:g}); not written")
    return error


def jax_to_numpy(tree):
    import jax

    return jax.tree.map(np.asarray, tree)


def read_metadata(model) -> dict[str, str]:
    """The metadata of an ONNX model (or its path) as a dict."""
    import onnx

    if not hasattr(model, "metadata_props"):
        model = onnx.load(str(model))
    return {prop.key: prop.value for prop in model.metadata_props}


def robot_of_metadata(meta: dict[str, str]):
    """The `Robot` an exported policy drives (files of earlier versions say "unitree_g1" plus a variant)."""
    from mimicjax import robots

    name = meta["robot"]
    if name == "unitree_g1" and "variant" in meta:
        name = f"g1_{meta['variant']}"
    return robots.get(name)


__all__ = ["ACTION", "INPUT", "TARGET", "config_hash", "policy_metadata", "read_metadata", "robot_of_metadata", "student_onnx",
           "verify_onnx"]
