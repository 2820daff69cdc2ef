"""Sim-to-sim: the exported student (ONNX) in MuJoCo's C engine, with the NumPy observation builder.

    mimicjax sim2sim --onnx policy.onnx --motions LIB.npz [--clip N] [--video OUT.mp4] --json OUT.json

Nothing here uses JAX or MJX: the robot loop a real G1 would run (ONNX runtime, `mimicjax.deploy.
observation`) drives `mujoco.mj_step` on the project's MJCF with the physics step, solver settings,
control rate, PD targets and termination thresholds stored in the policy's metadata. Each clip is run
from its start, the robot placed on the reference as `mimicjax eval` does; success and keypoint errors
are measured as there (keypoints anchored to the robot's root, heights kept), so the two can be compared
clip by clip (a test does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mimicjax.deploy import observation as obs_lib


# What sim2sim reads from the policy's metadata (`mimicjax.deploy.onnx_export.policy_metadata`).
REQUIRED_METADATA = (
    "robot", "control_dt", "physics_dt", "solver_iterations", "line_search_iterations", "terminations",
    "episode_seconds", "keypoint_bodies", "keypoint_groups", "default_joint_pos", "action_scale", "history_length",
    "goal_offsets", "observation_clip",
)


def anchor_reference(points, ref_root_pos, ref_root_quat, root_pos, root_quat):
    """Reference points moved so the reference root's x, y and heading match the robot's (heights kept);
    `mimicjax.envs.rewards.anchor_reference` in NumPy."""
    turn = _quat_multiply(obs_lib.heading_quat(root_quat), obs_lib.quat_conjugate(obs_lib.heading_quat(ref_root_quat)))
    anchor = np.concatenate([root_pos[:2], ref_root_pos[2:3]])
    return anchor + obs_lib.quat_rotate(np.broadcast_to(turn, points.shape[:-1] + (4,)), points - ref_root_pos)


def _quat_multiply(a, b):
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw])


def _up(quat):
    return obs_lib.quat_rotate(quat, np.array([0.0, 0.0, 1.0]))


class Sim2Sim:
    """One exported policy on its robot's model in the C engine."""

    def __init__(self, onnx_path: str | Path):
        import mujoco
        import onnxruntime

        from mimicjax.deploy.onnx_export import ACTION, INPUT, read_metadata, robot_of_metadata

        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"policy file not found: {self.onnx_path}")
        try:
            self.meta = read_metadata(self.onnx_path)
        except Exception as error:  # protobuf's DecodeError and friends
            raise ValueError(f"{self.onnx_path}: not an ONNX model ({type(error).__name__}: {error})") from None
        missing = set(REQUIRED_METADATA) - set(self.meta)
        if missing:
            raise ValueError(f"{self.onnx_path} lacks metadata {sorted(missing)}; export it with `mimicjax export --out "
                             f"POLICY.onnx` of this version")
        self.spec = obs_lib.ObservationSpec.from_metadata(self.meta)
        get = lambda key: json.loads(self.meta[key])  # noqa: E731
        self.robot = robot_of_metadata(self.meta)
        self.model = self.robot.load_model()
        self.model.opt.timestep = get("physics_dt")
        if get("solver_iterations") is not None:
            self.model.opt.iterations = get("solver_iterations")
        if get("line_search_iterations") is not None:
            self.model.opt.ls_iterations = get("line_search_iterations")
        self.control_dt = get("control_dt")
        self.substeps = int(round(self.control_dt / get("physics_dt")))
        self.terminations = get("terminations")
        self.episode_seconds = get("episode_seconds")
        body_names = [self.model.body(i).name for i in range(self.model.nbody)]
        self.keypoint_ids = np.array([body_names.index(name) for name in get("keypoint_bodies")])
        self.keypoint_groups = get("keypoint_groups")
        actuated = self.model.actuator_trnid[:, 0]
        self.ctrl_low, self.ctrl_high = self.model.jnt_range[actuated, 0], self.model.jnt_range[actuated, 1]
        try:
            self.session = onnxruntime.InferenceSession(str(self.onnx_path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for unreadable graphs
            raise ValueError(f"{self.onnx_path}: onnxruntime cannot load it ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:200]})") from None
        inputs, outputs = self.session.get_inputs(), [o.name for o in self.session.get_outputs()]
        if [i.name for i in inputs] != [INPUT] or ACTION not in outputs:
            raise ValueError(f"{self.onnx_path}: expected input {INPUT!r} and output {ACTION!r}, found inputs "
                             f"{[i.name for i in inputs]} and outputs {outputs}")
        size = inputs[0].shape[-1]
        if size != self.spec.size:
            raise ValueError(f"{self.onnx_path}: the graph takes observations of size {size}, but its metadata describes "
                             f"{self.spec.size} (history {self.spec.history}, {len(self.spec.goal_offsets)} goal frames); "
                             f"the file was changed after export, export it again")
        self.input_name, self.action_name = INPUT, ACTION
        self.data = mujoco.MjData(self.model)
        self.ref_data = mujoco.MjData(self.model)
        self._mujoco = mujoco

    def _reference_qpos_qvel(self, frame: dict, i: int):
        quat = frame["root_quat"][i] / np.linalg.norm(frame["root_quat"][i])
        qpos = np.concatenate([frame["root_pos"][i], quat, frame["joint_pos"][i]])
        local_ang = obs_lib.quat_rotate(obs_lib.quat_conjugate(quat), frame["root_ang_vel"][i])
        qvel = np.concatenate([frame["root_lin_vel"][i], local_ang, frame["joint_vel"][i]])
        return qpos, qvel

    def run_episode(self, motion: obs_lib.ReferenceMotion, clip: int, start: float = 0.0, on_step=None,
                    observations: list | None = None) -> dict:
        """One episode from `start` seconds of `clip`; returns its success, length and keypoint errors.
        `observations`: a list that receives every observation the policy saw (e.g. to check an export)."""
        mujoco, spec, data, ref_data = self._mujoco, self.spec, self.data, self.ref_data
        mujoco.mj_resetData(self.model, data)
        frame = motion.sample(clip, np.array([start]))
        data.qpos[:], data.qvel[:] = self._reference_qpos_qvel(frame, 0)
        data.ctrl[:] = np.clip(frame["joint_pos"][0], self.ctrl_low, self.ctrl_high)
        mujoco.mj_forward(self.model, data)
        last_action = (frame["joint_pos"][0] - spec.default_joint_pos) / spec.action_scale
        observe = obs_lib.StudentObservation(spec)
        duration = motion.duration(clip)
        max_steps = int(round(self.episode_seconds / self.control_dt))
        time, steps, errors, cause = start, 0, [], None
        limits = self.terminations
        while True:
            obs = observe(data.qpos[7:], data.qvel[6:], data.qvel[3:6], data.qpos[3:7], last_action,
                          motion.goal(spec, clip, time))
            if observations is not None:
                observations.append(obs)
            action = self.session.run([self.action_name], {self.input_name: obs[None]})[0][0].astype(np.float64)
            data.ctrl[:] = np.clip(obs_lib.joint_targets(spec, action), self.ctrl_low, self.ctrl_high)
            for _ in range(self.substeps):
                mujoco.mj_step(self.model, data)
            mujoco.mj_kinematics(self.model, data)  # body poses of the new state (mj_step leaves the old ones)
            last_action, time, steps = action, time + self.control_dt, steps + 1

            ref = motion.sample(clip, np.array([time]))
            ref_data.qpos[:], ref_data.qvel[:] = self._reference_qpos_qvel(ref, 0)
            mujoco.mj_kinematics(self.model, ref_data)
            root_pos, root_quat = data.qpos[:3], data.qpos[3:7] / np.linalg.norm(data.qpos[3:7])
            ref_root_pos, ref_root_quat = ref_data.qpos[:3], ref_data.qpos[3:7]
            keypoints = data.xpos[self.keypoint_ids]
            goal = ref_data.xpos[self.keypoint_ids]
            if limits["keypoint_frame"] == "anchored":
                goal = anchor_reference(goal, ref_root_pos, ref_root_quat, root_pos, root_quat)
            distance = np.linalg.norm(keypoints - goal, axis=-1)
            errors.append(distance)
            if on_step is not None:
                on_step(data, ref_data)
            finite = np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qvel))
            if not finite or np.any(np.abs(data.qvel) > limits["max_joint_speed"]):
                cause = "nonfinite"
            elif abs(root_pos[2] - ref_root_pos[2]) > limits["max_root_height_error"]:
                cause = "root_height"
            elif np.arccos(np.clip(_up(root_quat) @ _up(ref_root_quat), -1.0, 1.0)) > limits["max_tilt_error"]:
                cause = "tilt"
            elif np.any(distance > limits["max_keypoint_error"]):
                cause = "keypoint_drift"
            if cause is not None or steps >= max_steps or time >= duration - 1e-4:
                break
        errors = np.array(errors)
        groups = {group: [i for i, g in enumerate(self.keypoint_groups) if g == group] for group in dict.fromkeys(self.keypoint_groups)}
        return {
            "clip": clip, "name": motion.clip_names[clip], "start_time": start, "success": cause is None,
            "termination": cause, "steps": steps, "seconds": steps * self.control_dt,
            "keypoint_error": {"mean": float(errors.mean()), "max": float(errors.max())},
            **{f"keypoint_error_{group}": float(errors[:, ids].mean()) for group, ids in groups.items()},
        }


def evaluate(onnx_path, motions_path, clips=None, video=None, video_size=(640, 480), progress: bool = True) -> dict:
    """Every clip (or `clips`) of the motion library from its start; results in `mimicjax eval`'s format:
    top-level success_rate/keypoint_error, "overall", "clips" (a summary per clip) and "per_episode"."""
    sim = Sim2Sim(onnx_path)
    motion = obs_lib.ReferenceMotion.load(motions_path)
    library_joints, policy_joints = motion.arrays["joint_pos"].shape[-1], sim.robot.num_joints
    if library_joints != policy_joints:
        raise ValueError(
            f"{motions_path} holds motion of a {library_joints}-joint robot, but the policy in {onnx_path} drives the "
            f"{sim.robot.title} ({policy_joints} joints); pass a library retargeted with `--robot {sim.robot.name}` "
            f"(e.g. the one it was trained on)")
    clips = list(range(motion.num_clips)) if clips is None else list(clips)
    for clip in clips:
        if not 0 <= clip < motion.num_clips:
            raise ValueError(f"--clip {clip}: {motions_path} has {motion.num_clips} clips (0..{motion.num_clips - 1})")
    frames, renderer = [], None
    if video is not None:
        renderer = _Renderer(sim, video_size)
    episodes = []
    for clip in clips:
        on_step = renderer.capture if renderer is not None and clip == clips[0] else None
        episode = sim.run_episode(motion, clip, on_step=on_step)
        episodes.append(episode)
        if progress:
            status = "success" if episode["success"] else f"failed ({episode['termination']})"
            print(f"  {episode['name']:<24} {status:<24} {episode['seconds']:6.2f} s  keypoint error "
                  f"{100 * episode['keypoint_error']['mean']:.1f} cm", file=sys.stderr, flush=True)
    if renderer is not None:
        frames = renderer.frames
        from mimicjax.video import write_video

        write_video(video, np.asarray(frames), fps=1.0 / sim.control_dt)
    return {
        "engine": "mujoco (C)",
        "onnx": str(onnx_path),
        "motions": str(motions_path),
        "policy": "student",
        "checkpoint": json.loads(sim.meta.get("checkpoint", "null")),
        "config_hash": sim.meta.get("config_hash"),
        **summary(episodes),
        "overall": summary(episodes, top_level=False),
        "clips": [{"clip": e["clip"], "name": e["name"], **summary([e], top_level=False)} for e in episodes],
        "per_episode": episodes,
        "video": str(video) if video is not None else None,
    }


def summary(episodes: list[dict], top_level: bool = True) -> dict:
    """The eval command's figures for a set of episodes: success rate, failures and their causes,
    step-weighted keypoint errors (as `mimicjax eval` averages over all evaluated steps)."""
    steps = np.array([e["steps"] for e in episodes], np.float64)
    mean = float(np.sum([e["keypoint_error"]["mean"] * e["steps"] for e in episodes]) / steps.sum())
    success_rate = float(np.mean([e["success"] for e in episodes]))
    if top_level:
        return {"success_rate": success_rate, "keypoint_error": mean}
    causes = [e["termination"] for e in episodes if e["termination"]]
    groups = [key for key in episodes[0] if key.startswith("keypoint_error_")]
    return {
        "episodes": len(episodes),
        "success_rate": success_rate,
        "failures": len(causes),
        "termination_causes": {cause: causes.count(cause) for cause in sorted(set(causes))},
        "mean_episode_seconds": float(np.mean([e["seconds"] for e in episodes])),
        "keypoint_error": {"mean": mean, "max": float(max(e["keypoint_error"]["max"] for e in episodes))},
        **{group: float(np.sum([e[group] * e["steps"] for e in episodes]) / steps.sum()) for group in groups},
    }


class _Renderer:
    """Frames of the robot, followed by the camera, for the video of the first evaluated clip."""

    def __init__(self, sim: Sim2Sim, size):
        from mimicjax.motion.render import choose_gl_backend

        choose_gl_backend()
        import mujoco

        self.mujoco, self.sim = mujoco, sim
        width, height = size
        self.renderer = mujoco.Renderer(sim.model, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        self.camera.distance, self.camera.elevation, self.camera.azimuth = 3.0, -15.0, 135.0
        self.frames = []

    def capture(self, data, ref_data):
        self.camera.lookat[:] = data.qpos[:3]
        self.renderer.update_scene(data, self.camera)
        self.frames.append(self.renderer.render().copy())


__all__ = ["Sim2Sim", "anchor_reference", "evaluate"]
