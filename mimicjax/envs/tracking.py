"""The motion-tracking env: a robot in MJX following clips of a `MotionLibrary` (GenMimic's task).

Each env follows one clip from a random start time; reset puts the robot exactly on the reference frame
(reference state initialisation). Actions are joint-position offsets around the default pose, times
`robot.action_scale`, held by the PD actuators for one 50 Hz control step. Episodes end as failures
(`terminated`) when the robot falls or a keypoint drifts too far from its goal, and are cut
(`truncated`, bootstrapped) at the episode limit or at the end of the clip; `step` then starts a new
episode on a newly sampled clip (`base.auto_reset`), or at `info["next_start"]` when a trainer with an
adaptive start sampler (`motion.sampler`, `TrackingConfig.sampler`) puts one there.

    env = TrackingEnv(TrackingConfig(), library)
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(key, num_envs))
    state = jax.jit(jax.vmap(env.step))(state, actions)

The env object holds configuration and constants (the compiled robot `sim` and the `library`, both
pytrees closed over by `reset`/`step`); all per-env data is in the `State`. Observations, rewards,
terminations, randomisation and mirroring live in their own modules; see their docstrings.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from mimicjax.envs import mirror as mirror_lib
from mimicjax.envs import observations as obs_lib
from mimicjax.envs import randomization as rand_lib
from mimicjax.envs import rewards as reward_lib
from mimicjax.envs import sim as sim_lib
from mimicjax.envs import terminations as term_lib
from mimicjax.envs.base import Env, State, auto_reset
from mimicjax.envs.observations import ObservationConfig
from mimicjax.envs.randomization import RandomizationConfig
from mimicjax.envs.rewards import RewardConfig
from mimicjax.envs.terminations import TerminationConfig
from mimicjax.motion import library as motion_lib
from mimicjax.motion import sampler as sampler_lib
from mimicjax.motion.sampler import SamplerConfig
from mimicjax import robots
from mimicjax.robots import Robot

_GEOM_SPHERE, _GEOM_CAPSULE = 2, 3  # mujoco.mjtGeom values


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    robot: str = robots.DEFAULT_ROBOT  # a name of `robots.names()`, e.g. "g1_23dof" or "h1"
    robot_mjcf: str | None = None  # another model file of that robot (physics and kinematics follow it)
    sim: sim_lib.SimConfig = sim_lib.SimConfig()
    episode_seconds: float = 10.0  # episode limit (truncation); clips also end episodes at their end
    random_start: bool = True  # start at a uniformly random time of the clip (else at its start)
    # Adaptive starts in training: the rollout draws each new episode's (clip, time) from a
    # `motion.sampler.AdaptiveSampler` (needs random_start); evaluation samples uniformly.
    sampler: SamplerConfig = SamplerConfig()
    observations: ObservationConfig = ObservationConfig()
    rewards: RewardConfig = RewardConfig()
    terminations: TerminationConfig = TerminationConfig()
    randomization: RandomizationConfig = RandomizationConfig()
    # Run MuJoCo's kinematics at reset so that body poses in `State.data` (xpos, geom_xpos, ...) match
    # qpos right away. The physics does not need it (every step starts with a full forward pass) and it
    # makes the compiled step larger, so it is off by default; the env itself reads only qpos/qvel.
    reset_kinematics: bool = False

    def __post_init__(self):
        robots.definition(self.robot)  # an unknown name fails when the config is built, with the known ones
        # Keypoint and group names are the robot's: a typo fails when the config is built, not in the env.
        if self.rewards.keypoint_group_weights or self.rewards.keypoint_weight_overrides:
            reward_lib.keypoint_weights(self.load_robot(), self.rewards)

    def load_robot(self) -> Robot:
        """The `Robot` this config names (built once per name and model file)."""
        return robots.get(self.robot, self.robot_mjcf)

    def evaluation(self) -> "TrackingConfig":
        """The same task without domain randomisation, pushes, action delay or observation noise."""
        return dataclasses.replace(
            self,
            randomization=dataclasses.replace(self.randomization, enabled=False),
            sampler=dataclasses.replace(self.sampler, enabled=False),
            observations=dataclasses.replace(self.observations, noise=dataclasses.replace(self.observations.noise, enabled=False)),
        )


def _key_data(rng):
    """Raw uint32 key data (kept in the state so `jnp.where` can select it)."""
    if jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(rng)
    return rng


def _split(raw, num: int):
    keys = jax.random.split(jax.random.wrap_key_data(raw), num)
    return [keys[i] for i in range(num)]


class TrackingEnv(Env):
    """Keypoint-conditioned motion tracking of `library` clips by the robot (see the module docstring)."""

    def __init__(self, config: TrackingConfig, library, sim: sim_lib.Sim | None = None, mj_model=None):
        self.config = config
        self.robot = robot = config.load_robot()
        self._check_library(library)
        if sim is None:
            sim, mj_model = sim_lib.make_sim(robot, config.sim)
        elif mj_model is None:
            mj_model = sim_lib.load_mj_model(robot, config.sim)
        if int(sim.default_ctrl.shape[0]) != robot.num_joints:
            raise ValueError(f"the sim has {int(sim.default_ctrl.shape[0])} actuators but the {robot.title} has {robot.num_joints} joints")
        if sim.host is not None and config.randomization.enabled:
            raise ValueError(
                "sim.impl='c' steps one shared MuJoCo model, so it cannot randomise masses, friction or gains "
                "per env: set env.randomization.enabled=False, or use sim.impl='jax'"
            )
        self.sim = sim
        self.library = library
        self.tree = robot.tree
        self.dt = float(sim.control_dt)
        self.max_steps = int(math.ceil(config.episode_seconds / self.dt - 1e-9))
        if self.max_steps < 1:
            raise ValueError(f"episode_seconds must cover at least one control step ({self.dt} s), got {config.episode_seconds}")
        obs_cfg = config.observations
        if obs_cfg.actor not in ("teacher", "student"):
            raise ValueError(f"observations.actor must be 'teacher' or 'student', got {obs_cfg.actor!r}")
        if obs_cfg.history < 1:
            raise ValueError(f"observations.history must be at least 1, got {obs_cfg.history}")
        if not obs_cfg.goal_offsets or not obs_cfg.student_goal_offsets:
            raise ValueError("observations.goal_offsets and student_goal_offsets need at least one offset (0.0 is the current frame)")
        if config.randomization.max_action_delay < 0:
            raise ValueError(f"randomization.max_action_delay must be >= 0, got {config.randomization.max_action_delay}")
        sampler_lib.check_config(config.sampler)
        self.sampler_config = config.sampler if (config.sampler.enabled and config.random_start) else None

        f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
        self.default_pose = f32(robot.default_pose)
        self.action_scale = f32(robot.action_scale)
        self.keypoint_ids = np.asarray(robot.keypoint_body_ids)
        self.reward_constants = reward_lib.constants(robot, config.rewards)
        self.reward_overrides = {}  # see `with_reward_overrides`
        self.keypoint_groups = tuple(dict.fromkeys(robot.keypoint_groups))
        self._group_masks = {g: f32([kg == g for kg in robot.keypoint_groups]) for g in self.keypoint_groups}
        self._setup_geoms(mj_model)

        n, k, nb = robot.num_joints, len(robot.keypoint_bodies), len(robot.body_names)
        self.proprio_layout = obs_lib.proprio_layout(n)
        self.student_layout = obs_lib.student_layout(n, k, obs_cfg)
        self.privileged_layout = obs_lib.privileged_layout(n, k, nb, obs_cfg)
        self._mirrors = {
            "teacher": mirror_lib.signed_permutation(robot, self.privileged_layout),
            "critic": mirror_lib.signed_permutation(robot, self.privileged_layout),
            "student": mirror_lib.signed_permutation(robot, self.student_layout),
        }
        self._mirrors["actor"] = self._mirrors[obs_cfg.actor]
        self._action_mirror = mirror_lib.action_mirror(robot)
        self.metric_names = self._metric_names()
        self._offsets = (0.0,) + tuple(obs_cfg.goal_offsets) + tuple(obs_cfg.student_goal_offsets)
        k3 = len(robot.keypoint_bodies) * 3
        self._noise_size = obs_lib.proprio_noise_size(n) + k3 * (len(obs_cfg.goal_offsets) + len(obs_cfg.student_goal_offsets))

    # ------------------------------------------------------------------------------------ setup

    def _check_library(self, library):
        meta, robot = library.meta, self.robot
        if meta.robot != robot.name:
            raise ValueError(f"the motion library is for the {meta.robot} but the env is the {robot.name}; "
                             f"set env.robot={meta.robot!r} or retarget the motions with --robot {robot.name}")
        if tuple(meta.keypoint_names) != tuple(robot.keypoint_bodies):
            raise ValueError(f"the motion library's keypoints {list(meta.keypoint_names)} differ from the robot's "
                             f"{list(robot.keypoint_bodies)}; rebuild the library with this version")
        if library.num_clips < 1:
            raise ValueError("the motion library has no clips")

    def _setup_geoms(self, mj_model):
        names = [mj_model.geom(i).name for i in range(mj_model.ngeom)]
        self.floor_geom = names.index("floor")
        body_names = [mj_model.body(i).name for i in range(mj_model.nbody)]
        feet = [body_names.index(foot) for foot in self.robot.feet]
        self.torso_body = body_names.index(self.robot.torso)
        bodies, types, sizes = mj_model.geom_bodyid, mj_model.geom_type, mj_model.geom_size

        def geoms(mask):
            ids = np.flatnonzero(mask)
            half = np.where(types[ids] == _GEOM_CAPSULE, sizes[ids, 1], 0.0)
            return {
                "body": np.asarray(bodies[ids], np.int32),
                "pos": np.asarray(mj_model.geom_pos[ids], np.float32),
                "quat": np.asarray(mj_model.geom_quat[ids], np.float32),
                "radius": np.asarray(sizes[ids, 0], np.float32),
                "half": np.asarray(half, np.float32),
            }

        is_sphere = types == _GEOM_SPHERE
        self._soles = [geoms(is_sphere & (bodies == foot)) for foot in feet]
        if any(len(s["body"]) == 0 for s in self._soles):
            raise ValueError(f"the {self.robot.title} model has no sphere geoms on its feet {self.robot.feet}; "
                             "foot contacts cannot be sensed")
        robot = (bodies != 0) & ~np.isin(bodies, feet) & np.isin(types, (_GEOM_SPHERE, _GEOM_CAPSULE))
        self._body_geoms = geoms(robot)
        pair_geoms = np.stack([mj_model.pair_geom1, mj_model.pair_geom2], axis=1) if mj_model.npair else np.zeros((0, 2), int)
        self.floor_pairs = np.any(pair_geoms == self.floor_geom, axis=1)

    def _metric_names(self) -> tuple[str, ...]:
        names = list(reward_lib.metric_names(self.config.rewards))
        names += ["error/keypoint", "error/keypoint_world"] + [f"error/keypoint_{g}" for g in self.keypoint_groups]
        names += ["error/root_pos", "error/root_ori", "error/joint_pos"]
        names += [f"termination/{c}" for c in term_lib.CAUSES] + ["termination/any", "truncation/time_limit", "truncation/clip_end"]
        return tuple(names)

    # ------------------------------------------------------------------------------- the contract

    @property
    def observation_size(self) -> dict[str, int]:
        privileged = obs_lib.layout_size(self.privileged_layout)
        student = obs_lib.layout_size(self.student_layout)
        sizes = {"teacher": privileged, "critic": privileged, "student": student}
        sizes["actor"] = sizes[self.config.observations.actor]
        return sizes

    @property
    def action_size(self) -> int:
        return self.robot.num_joints

    def observation_layout(self, name: str) -> tuple[obs_lib.Block, ...]:
        """The blocks of observation `name` ("actor", "critic", "teacher" or "student")."""
        if name == "actor":
            name = self.config.observations.actor
        if name in ("teacher", "critic"):
            return self.privileged_layout
        if name == "student":
            return self.student_layout
        raise ValueError(f"unknown observation {name!r}; the tracking env has actor, critic, teacher and student")

    def mirror_observation(self, name: str):
        if name not in self._mirrors:
            raise ValueError(f"unknown observation {name!r}; the tracking env has {sorted(self._mirrors)}")
        return self._mirrors[name]

    def mirror_action(self, action):
        return self._action_mirror(action)

    def init_sampler(self):
        if self.sampler_config is None:
            return None
        return sampler_lib.init_sampler(self.library, self.sampler_config)

    def reset(self, rng) -> State:
        return self._reset(rng, None, None)

    def with_library(self, library) -> "TrackingEnv":
        """This env on another motion library of the same shapes: e.g. a traced argument of a jitted
        function, so that one compiled program serves every library of those shapes."""
        env = copy.copy(self)
        env.library = library
        return env

    def with_reward_overrides(self, overrides: Mapping[str, Any], keypoint_weights=None) -> "TrackingEnv":
        """This env with reward weights and parameters from `overrides` (RewardConfig field -> value) and,
        if given, these (K,) keypoint weights; values may be traced (one per variant of a vmapped sweep)."""
        env = copy.copy(self)
        env.reward_overrides = {**self.reward_overrides, **overrides}
        if keypoint_weights is not None:
            env.reward_constants = self.reward_constants.replace(keypoint_weights=keypoint_weights)
        return env

    def reset_to(self, rng, clip, time) -> State:
        """A new episode on clip `clip` from `time` seconds (e.g. for evaluation), the robot on the reference."""
        return self._reset(rng, jnp.asarray(clip, jnp.int32), jnp.asarray(time, jnp.float32))

    def _reset(self, rng, clip, time) -> State:
        cfg = self.config
        k_next, k_uniform = _split(_key_data(rng), 2)
        n, nbody = self.robot.num_joints, len(self.tree.parents)
        sizes = (2, rand_lib.num_uniforms(nbody, n), 1, self._noise_size)
        u = jax.random.uniform(k_uniform, (sum(sizes),), jnp.float32)
        u_start, u_rand, u_push, u_noise = jnp.split(u, np.cumsum(sizes[:-1]))
        if clip is None:
            clip = self._sample_clip(u_start[0])
            duration = self.library.clip_duration[clip]
            time = u_start[1] * duration if cfg.random_start else jnp.zeros((), jnp.float32)
        params = rand_lib.from_uniform(cfg.randomization, u_rand, nbody, n)

        future = self._sample_reference(clip, time)
        frame = jax.tree.map(lambda x: x[0], future)
        qpos, qvel = obs_lib.reference_qpos_qvel(frame)
        ctrl = jnp.clip(frame.joint_pos, self.sim.ctrl_low, self.sim.ctrl_high)
        blank = jax.tree.map(lambda x: x[0], sim_lib.initial_data(self.sim, 1))
        if cfg.reset_kinematics:
            data = sim_lib.set_state(self.sim, blank, qpos, qvel, ctrl=ctrl)
        else:
            data = blank.replace(qpos=qpos, qvel=qvel, ctrl=ctrl)
        robot = obs_lib.robot_body_state(self.tree, qpos, qvel)
        # The action that holds the reference pose: the "previous" action of a fresh episode and what
        # fills the delay buffer, so a delayed env keeps the start pose instead of jolting to the default.
        last_action = self.reference_action(frame.joint_pos)
        obs, history = self._observe(robot, future, last_action, params, None, 2.0 * u_noise - 1.0)
        info = {
            "rng": jax.random.key_data(k_next),
            "clip": clip,
            "time": time,
            "steps": jnp.zeros((), jnp.int32),
            "last_action": last_action,
            "action_buffer": jnp.tile(last_action[None], (cfg.randomization.max_action_delay + 1, 1)),
            "history": history,
            "push_countdown": rand_lib.push_countdown(cfg.randomization, u_push[0]),
            "params": params,
        }
        zero = jnp.zeros((), jnp.float32)
        return State(
            data=data,
            obs=obs,
            reward=zero,
            terminated=zero,
            truncated=zero,
            final_obs=obs,
            metrics={name: zero for name in self.metric_names},
            info=info,
        )

    def reference_action(self, joint_pos) -> jax.Array:
        """The action whose PD target is `joint_pos` (without the randomised joint offsets)."""
        return ((joint_pos - self.default_pose) / self.action_scale).astype(jnp.float32)

    def _sample_clip(self, u):
        """A clip id drawn in proportion to `clip_weight` from one U[0, 1) number."""
        cdf = jnp.cumsum(self.library.clip_weight)
        return jnp.minimum(jnp.searchsorted(cdf, u * cdf[-1], side="right"), self.library.num_clips - 1).astype(jnp.int32)

    def _sample_reference(self, clip, time):
        """The reference at `time` and at every goal offset: a MotionFrame with a leading axis
        (0: now, then `goal_offsets`, then `student_goal_offsets`)."""
        offsets = jnp.asarray(self._offsets, jnp.float32)
        return motion_lib.sample(self.library, jnp.full(offsets.shape, clip, jnp.int32), time + offsets)

    def step(self, state: State, action) -> State:
        cfg = self.config
        info = state.info
        k_next, k_reset, k_uniform = _split(info["rng"], 3)
        action = jnp.asarray(action, jnp.float32)
        if action.shape != (self.action_size,):
            raise ValueError(f"the tracking env takes actions of shape ({self.action_size},) per env, got {action.shape}")
        params = info["params"]
        u = jax.random.uniform(k_uniform, (rand_lib.PUSH_UNIFORMS + self._noise_size,), jnp.float32)
        u_push, u_noise = u[: rand_lib.PUSH_UNIFORMS], 2.0 * u[rand_lib.PUSH_UNIFORMS:] - 1.0

        applied, buffer = rand_lib.delayed_action(info["action_buffer"], action, params.action_delay)
        targets = self.default_pose + params.joint_offset + applied * self.action_scale
        qvel, countdown = rand_lib.push(cfg.randomization, u_push, state.data.qvel, info["push_countdown"], self.dt)
        data = state.data.replace(qvel=qvel)
        if cfg.randomization.enabled:
            model = rand_lib.randomized_model(self.sim.model, params, self.floor_pairs, self.torso_body)
            sim = self.sim.replace(model=model)
        else:
            sim = self.sim
        data = sim_lib.step(sim, data, targets)

        time = info["time"] + self.dt
        steps = info["steps"] + 1
        clip = info["clip"]
        future = self._sample_reference(clip, time)
        ref_frame = jax.tree.map(lambda x: x[0], future)
        # Robot and reference through the same (batched) kinematics.
        ref_qpos, ref_qvel = obs_lib.reference_qpos_qvel(ref_frame)
        both = jax.vmap(obs_lib.robot_body_state, in_axes=(None, 0, 0))(self.tree, jnp.stack([data.qpos, ref_qpos]), jnp.stack([data.qvel, ref_qvel]))
        robot = jax.tree.map(lambda x: x[0], both)
        ref = jax.tree.map(lambda x: x[1], both)

        kp = robot.body_pos[self.keypoint_ids]
        ref_kp_world = ref.body_pos[self.keypoint_ids]
        ref_kp_anchored = reward_lib.anchor_reference(ref_kp_world, ref.root_pos, ref.root_quat, robot.root_pos, robot.root_quat)
        frames = {"world": ref_kp_world, "anchored": ref_kp_anchored}

        causes = term_lib.check(
            cfg.terminations,
            root_pos=robot.root_pos,
            ref_root_pos=ref.root_pos,
            root_quat=robot.root_quat,
            ref_root_quat=ref.root_quat,
            keypoint_pos=kp,
            ref_keypoint_pos=frames[cfg.terminations.keypoint_frame],
            qpos=data.qpos,
            qvel=data.qvel,
        )
        terminated = term_lib.any_cause(causes)
        time_limit = (steps >= self.max_steps).astype(jnp.float32)
        clip_end = (time >= self.library.clip_duration[clip] - 1e-4).astype(jnp.float32)
        truncated = jnp.maximum(time_limit, clip_end) * (1.0 - terminated)

        reward_state = reward_lib.RewardState(
            robot=robot,
            reference=ref,
            keypoint_pos=kp,
            ref_keypoint_pos=frames[cfg.rewards.keypoint_frame],
            action=action,
            last_action=info["last_action"],
            actuator_force=data.actuator_force,
            geom_lowest_z=self._geom_lowest_z(robot, self._body_geoms),
            self_contacts=sim_lib.self_contacts(sim, data),
            terminated=terminated,
        )
        reward, metrics = reward_lib.evaluate(reward_state, cfg.rewards, self.reward_constants, self.reward_overrides)

        obs, history = self._observe(robot, future, action, params, info["history"], u_noise)

        errors = jnp.linalg.norm(kp - frames[cfg.rewards.keypoint_frame], axis=-1)
        metrics["error/keypoint"] = jnp.mean(errors)
        metrics["error/keypoint_world"] = jnp.mean(jnp.linalg.norm(kp - ref_kp_world, axis=-1))
        for group, mask in self._group_masks.items():
            metrics[f"error/keypoint_{group}"] = jnp.sum(errors * mask) / mask.sum()
        metrics["error/root_pos"] = jnp.linalg.norm(robot.root_pos - ref.root_pos)
        metrics["error/root_ori"] = reward_lib.orientation_error(robot.root_quat, ref.root_quat)
        metrics["error/joint_pos"] = jnp.mean(jnp.abs(robot.joint_pos - ref.joint_pos))
        metrics.update({f"termination/{c}": causes[c] for c in term_lib.CAUSES})
        metrics["termination/any"] = terminated
        metrics["truncation/time_limit"] = time_limit * (1.0 - terminated)
        metrics["truncation/clip_end"] = clip_end * (1.0 - terminated)
        metrics = {name: jnp.nan_to_num(jnp.asarray(value, jnp.float32)) for name, value in metrics.items()}

        next_info = dict(
            info,
            rng=jax.random.key_data(k_next),
            time=time,
            steps=steps,
            last_action=action,
            action_buffer=buffer,
            history=history,
            push_countdown=countdown,
        )
        next_state = state.replace(
            data=data,
            obs=obs,
            reward=jnp.nan_to_num(reward).astype(jnp.float32),
            terminated=terminated,
            truncated=truncated,
            final_obs=obs,
            metrics=metrics,
            info=next_info,
        )
        k_reset = jax.random.key_data(k_reset)
        start = info.get("next_start")  # {"clip", "time"}: the next episode's start, from a sampler
        if start is None:
            return auto_reset(self, next_state, k_reset)
        fresh = self._reset(k_reset, start["clip"], start["time"])
        return auto_reset(self, next_state, k_reset, fresh.replace(info=dict(fresh.info, next_start=start)))

    # ------------------------------------------------------------------------------ observations

    def _geom_lowest_z(self, robot, geoms):
        return obs_lib.capsule_lowest_points(
            geoms["body"], geoms["pos"], geoms["quat"], geoms["radius"], geoms["half"], robot.body_pos, robot.body_quat
        )

    def foot_contacts(self, robot) -> jax.Array:
        """(2,) float32 {0, 1}: left and right foot within `contact_height` of the floor."""
        low = jnp.stack([jnp.min(self._geom_lowest_z(robot, soles)) for soles in self._soles])
        return (low < self.config.observations.contact_height).astype(jnp.float32)

    def _observe(self, robot, future, last_action, params, history, u_noise):
        """(obs dict, updated proprioception history) for one env.

        future: the reference from `_sample_reference`; u_noise: `_noise_size` U[-1, 1] numbers.
        """
        cfg = self.config.observations
        n_teacher = len(cfg.goal_offsets)
        teacher_future = jax.tree.map(lambda x: x[1:1 + n_teacher], future)
        student_future = jax.tree.map(lambda x: x[1 + n_teacher:], future)
        sizes = (obs_lib.proprio_noise_size(self.robot.num_joints), teacher_future.keypoint_pos.size, student_future.keypoint_pos.size)
        u_proprio, u_teacher, u_student = jnp.split(u_noise, np.cumsum(sizes[:-1]))

        clean = obs_lib.proprio_values(robot, self.default_pose, last_action)
        noisy = obs_lib.add_proprio_noise(clean, cfg.noise, u_proprio)
        frame = obs_lib.flatten(self.proprio_layout, noisy, cfg.clip)
        if history is None:
            history = jnp.tile(frame[None], (cfg.history, 1))
        else:
            history = jnp.concatenate([history[1:], frame[None]], axis=0)

        now = jax.tree.map(lambda x: x[0], future)
        student_goal = obs_lib.student_goal_values(now, student_future)
        student_goal["goal_keypoints"] = obs_lib.add_keypoint_noise(student_goal["goal_keypoints"], cfg.noise, u_student)
        goal_layout = self.student_layout[-len(obs_lib.STUDENT_GOAL_BLOCKS):]
        student = jnp.concatenate([history.reshape(-1), obs_lib.flatten(goal_layout, student_goal, cfg.clip)])

        rand = rand_lib.privileged(params, self.config.randomization) if cfg.privileged_randomization else None
        values = obs_lib.privileged_values(
            robot, self.keypoint_ids, self.default_pose, last_action, self.foot_contacts(robot), teacher_future, rand
        )
        critic = obs_lib.flatten(self.privileged_layout, values, cfg.clip)
        if cfg.noise.enabled:
            teacher_values = dict(values)
            teacher_values.update({name: noisy[name] for name in ("joint_pos", "joint_vel", "root_ang_vel", "gravity")})
            teacher_values["goal_keypoints"] = obs_lib.add_keypoint_noise(values["goal_keypoints"], cfg.noise, u_teacher)
            teacher = obs_lib.flatten(self.privileged_layout, teacher_values, cfg.clip)
        else:
            teacher = critic
        obs = {"teacher": teacher, "critic": critic, "student": student}
        obs["actor"] = obs[cfg.actor]
        return obs, history


__all__ = ["TrackingConfig", "TrackingEnv"]
