"""Human clips in, robot clips out: shape fit per subject, one batched solve for all frames, reports.

    results = retarget_motions([load_human_motion(p) for p in paths], robots.get("g1_29dof"))
    results[0].motion       # RobotMotion: root_pos, root_quat (wxyz), joint_pos at the source fps
    results[0].keypoints    # (T, K, 3) goal keypoints (Robot.keypoint_bodies) by FK of the solution
    results[0].report       # keypoint error, limb angles, limit violations, foot penetration, jitter
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.motion.robot_files import RobotMotion
from mimicjax.retarget import metrics
from mimicjax.retarget.correspondence import RobotGeometry, robot_geometry
from mimicjax.retarget.solver import RetargetConfig, pack, robot_constants, points_on_bodies, sole_heights, solve, weights_of
from mimicjax.retarget.targets import ClipTargets, ShapeFit, clip_targets, fit_shape
from mimicjax.robots import Robot


@dataclasses.dataclass(frozen=True)
class RetargetResult:
    name: str
    motion: RobotMotion
    keypoints: np.ndarray  # (T, K, 3) positions of Robot.keypoint_bodies
    report: dict
    targets: ClipTargets
    shape: ShapeFit


def _sites_and_soles(geometry: RobotGeometry, constants, pos, quat):
    sites = np.asarray(points_on_bodies(pos, quat, geometry.site_body, geometry.site_offset))
    soles = np.asarray(sole_heights(constants, jnp.asarray(pos, jnp.float32), jnp.asarray(quat, jnp.float32)))
    return sites, soles


def _spread_over_devices(problem, robot):
    """Split the frame axis (last axis of every `Problem` leaf) over all devices; replicate the robot.

    Frames are independent but for their neighbours in the smoothness term; XLA moves those few frames
    across shard boundaries by itself.
    """
    from jax.sharding import NamedSharding, PartitionSpec

    from mimicjax.distributed import DATA_AXIS, make_mesh, replicated

    mesh = make_mesh()
    frames_last = lambda leaf: NamedSharding(mesh, PartitionSpec(*([None] * (leaf.ndim - 1)), DATA_AXIS))  # noqa: E731
    problem = jax.tree.map(lambda leaf: jax.device_put(leaf, frames_last(leaf)), problem)
    return problem, jax.device_put(robot, replicated(mesh))


def _subject_key(motion, body_model) -> tuple:
    if not body_model.has_mesh:
        return ("skeleton",)
    return (motion.gender, np.round(np.asarray(motion.betas, np.float64), 6).tobytes())


def retarget_motions(motions, robot: Robot, body_model=None, config: RetargetConfig = RetargetConfig(),
                     names=None, progress: bool = False) -> list[RetargetResult]:
    """Retarget `HumanMotion`s onto `robot` in one batched optimisation.

    body_model: a `BodyModel` (default: the skeleton-only neutral SMPL). With a model that has a shape
    space, betas and scale are fitted once per subject (clips with the same gender and betas).
    """
    from mimicjax.human.smpl import BodyModel

    if not motions:
        raise ValueError("no motions to retarget")
    body_model = body_model if body_model is not None else BodyModel.skeleton_only()
    geometry = robot_geometry(robot)
    names = list(names) if names is not None else [str(m.source or f"clip{i}") for i, m in enumerate(motions)]

    shapes: dict[tuple, ShapeFit] = {}
    clips = []
    iterator = zip(names, motions)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(list(iterator), desc="human targets", unit="clip", leave=False)
    for name, motion in iterator:
        key = _subject_key(motion, body_model)
        if key not in shapes:
            shapes[key] = fit_shape(body_model, geometry)
        clips.append(clip_targets(motion, body_model, geometry, shapes[key], config.align_heading, name=name))

    constants = robot_constants(geometry, robot.tree, config)
    problem, starts = pack(clips)
    if jax.device_count() > 1 and problem.valid.shape[0] % jax.device_count() == 0:
        problem, constants = _spread_over_devices(problem, constants)
    root_pos, root_quat, joint_pos, _ = solve(constants, problem, weights_of(config), config.steps, config.learning_rate,
                                              config.final_learning_rate_fraction, tuple(config.smoothness_ramp))
    root_pos, root_quat, joint_pos = (np.asarray(x, np.float64) for x in (root_pos, root_quat, joint_pos))
    joint_pos = np.clip(joint_pos, geometry.joint_range[:, 0], geometry.joint_range[:, 1])
    root_quat /= np.linalg.norm(root_quat, axis=-1, keepdims=True)

    pos, quat = robot.body_poses(root_pos, root_quat, joint_pos)
    # The floor penalty leaves at most millimetres; lift those frames so no sole is ever below z = 0.
    lowest = np.asarray(sole_heights(constants, jnp.asarray(pos, jnp.float32), jnp.asarray(quat, jnp.float32))).min(axis=(-1, -2))
    lift = np.maximum(-lowest, 0.0)
    root_pos[:, 2] += lift
    pos, quat = robot.body_poses(root_pos, root_quat, joint_pos)
    sites, soles = _sites_and_soles(geometry, constants, pos, quat)

    results = []
    for clip, start, key in zip(clips, starts, [_subject_key(m, body_model) for m in motions]):
        frames = slice(int(start), int(start) + clip.num_frames)
        motion = RobotMotion(
            fps=clip.fps,
            root_pos=root_pos[frames],
            root_quat=root_quat[frames],
            joint_pos=joint_pos[frames],
            joint_names=geometry.joint_names,
            source=clip.source,
            source_format="retarget",
        )
        report = metrics.clip_report(geometry, sites[frames], clip.sites, clip.human_joints, joint_pos[frames],
                                     soles[frames], clip.fps)
        report["scale"] = shapes[key].scale
        report["floor_lift_max_m"] = float(lift[frames].max())  # how far the final floor clamp raised the root
        results.append(RetargetResult(clip.name, motion, pos[frames][:, geometry.keypoint_body_ids], report, clip, shapes[key]))
    return results


__all__ = ["RetargetConfig", "RetargetResult", "retarget_motions"]
