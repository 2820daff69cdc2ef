"""`MotionLibrary`: every clip of a training run packed into device arrays, sampled inside jit.

Layout (all leaves are arrays, so the library is a pytree that `jit`, `vmap` and `device_put` accept):

* per-frame arrays, leading axis F = total frames of all clips, clips one after another:
  `root_pos` (F, 3), `root_quat` (F, 4, wxyz), `joint_pos`/`joint_vel` (F, n), `root_lin_vel` (F, 3, world),
  `root_ang_vel` (F, 3, world), `keypoint_pos`/`keypoint_vel` (F, K, 3) for `spec().keypoint_bodies`
  (forward kinematics at build time, so training never runs FK on reference motion);
* per-clip arrays, leading axis C: `clip_start`, `clip_length`, `clip_fps`, `clip_weight`, `clip_mirror_of`
  (index of the clip a mirrored copy was made from, -1 for originals).

Sharding: `sample` gathers arbitrary frames, so the usual layout replicates the library on every device
(`NamedSharding(mesh, P())`) and shards the environments' `clip_ids`/`times` along the data axis. A
library too large to replicate can shard axis 0 of the per-frame leaves; the gathers then become
collectives, which XLA inserts by itself.

Metadata (robot name, joint and keypoint names, clip names, source files and their sha256) rides
along as a static, hashable field, and everything is saved as ONE npz written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from scipy.spatial.transform import Rotation

from mimicjax import robots
from mimicjax.math.rotations import quat_slerp
from mimicjax.motion.validate import MotionFormatError, fail

FORMAT_TAG = "mimicjax.motion_library/1"
_FRAME_FIELDS = ("root_pos", "root_quat", "joint_pos", "joint_vel", "root_lin_vel", "root_ang_vel", "keypoint_pos", "keypoint_vel")
_CLIP_FIELDS = ("clip_start", "clip_length", "clip_fps", "clip_weight", "clip_mirror_of")


def _robot_name(data: dict) -> str:
    """The robot of saved metadata; libraries written before other robots existed name a G1 variant."""
    return str(data["robot"]) if "robot" in data else f"g1_{data['variant']}"


@dataclasses.dataclass(frozen=True)
class LibraryMeta:
    """What the arrays mean. Hashable, so it can be a static pytree field."""

    robot: str  # the name of the robot the clips are for (`robots.get(robot)`)
    joint_names: tuple[str, ...]
    keypoint_names: tuple[str, ...]
    clip_names: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]  # per clip: (source file, sha256 of its bytes or "")

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT_TAG, **dataclasses.asdict(self)})

    @classmethod
    def from_json(cls, text: str, path) -> "LibraryMeta":
        try:
            data = json.loads(text)
            return cls(
                robot=_robot_name(data),
                joint_names=tuple(data["joint_names"]),
                keypoint_names=tuple(data["keypoint_names"]),
                clip_names=tuple(data["clip_names"]),
                sources=tuple((str(a), str(b)) for a, b in data["sources"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise fail(path, f"has unreadable library metadata ({exc})", "rebuild the library with `mimicjax retarget`") from None


@struct.dataclass
class MotionFrame:
    """Reference state at sampled times; every leaf has the batch shape of `clip_ids` in front."""

    root_pos: jax.Array
    root_quat: jax.Array
    joint_pos: jax.Array
    joint_vel: jax.Array
    root_lin_vel: jax.Array
    root_ang_vel: jax.Array
    keypoint_pos: jax.Array
    keypoint_vel: jax.Array


@struct.dataclass
class MotionLibrary:
    root_pos: jax.Array
    root_quat: jax.Array
    joint_pos: jax.Array
    joint_vel: jax.Array
    root_lin_vel: jax.Array
    root_ang_vel: jax.Array
    keypoint_pos: jax.Array
    keypoint_vel: jax.Array
    clip_start: jax.Array  # (C,) int32
    clip_length: jax.Array  # (C,) int32
    clip_fps: jax.Array  # (C,)
    clip_weight: jax.Array  # (C,) sampling weight
    clip_mirror_of: jax.Array  # (C,) int32, -1 for an original clip
    meta: LibraryMeta = struct.field(pytree_node=False)

    @property
    def num_clips(self) -> int:
        return int(self.clip_start.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def clip_duration(self):
        """(C,) seconds from each clip's first to last frame."""
        return (self.clip_length - 1) / self.clip_fps


# ---------------------------------------------------------------------- building


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _derivative(x: np.ndarray, fps: float) -> np.ndarray:
    if len(x) < 2:
        return np.zeros_like(x)
    return np.gradient(x, 1.0 / fps, axis=0)


def _angular_velocity(quat_wxyz: np.ndarray, fps: float) -> np.ndarray:
    """World-frame angular velocity (T, 3) by central differences of the orientation."""
    if len(quat_wxyz) < 2:
        return np.zeros((len(quat_wxyz), 3))
    rot = Rotation.from_quat(quat_wxyz[:, [1, 2, 3, 0]])
    step = (rot[1:] * rot[:-1].inv()).as_rotvec() * fps  # between consecutive frames
    vel = np.zeros((len(quat_wxyz), 3))
    vel[0], vel[-1] = step[0], step[-1]
    vel[1:-1] = 0.5 * (step[1:] + step[:-1])
    return vel


def mirrored_motion(motion, robot):
    """The clip reflected through the root's sagittal plane (y -> -y), left and right swapped."""
    from mimicjax.robots.base import mirror_qpos

    qpos = np.concatenate([motion.root_pos, motion.root_quat, motion.joint_pos], axis=1)
    mirrored = mirror_qpos(robot, qpos)
    return motion.replace(root_pos=mirrored[:, :3], root_quat=mirrored[:, 3:7], joint_pos=mirrored[:, 7:])


def build_library(motions, robot, names=None, weights=None, sources=None, mirror: bool = False) -> MotionLibrary:
    """Pack clips of `robot` (a `Robot`; `RobotMotion`s in its joint order) into a `MotionLibrary`.

    names: per-clip names (default: source stems). weights: per-clip sampling weights (default 1).
    sources: per-clip (file, sha256) pairs (default: the clip's `source` with its sha256 when the file
    exists). mirror: also add a mirrored copy of every clip, named '<name>:mirrored'.
    """
    motions = list(motions)
    if not motions:
        raise ValueError("build_library needs at least one clip")
    names = list(names) if names is not None else [Path(m.source).stem if m.source else f"clip{i}" for i, m in enumerate(motions)]
    weights = np.ones(len(motions)) if weights is None else np.asarray(weights, np.float64)
    if sources is None:
        sources = [(str(m.source), file_sha256(m.source) if m.source and Path(m.source).is_file() else "") for m in motions]
    for name, motion in zip(names, motions):
        if tuple(motion.joint_names) != robot.joint_names:
            raise ValueError(f"clip '{name}' has joints {len(motion.joint_names)} that are not the {robot.title}'s "
                             f"{robot.num_joints} in MJCF order; retarget or load it for --robot {robot.name}")
    mirror_of = [-1] * len(motions)
    if mirror:
        count = len(motions)
        motions = motions + [mirrored_motion(m, robot) for m in motions]
        names = names + [f"{n}:mirrored" for n in names]
        weights = np.concatenate([weights, weights])
        sources = list(sources) + list(sources)
        mirror_of = mirror_of + list(range(count))

    frames = {name: [] for name in _FRAME_FIELDS}
    for motion in motions:
        quat = motion.root_quat / np.linalg.norm(motion.root_quat, axis=-1, keepdims=True)
        pos, _ = robot.body_poses(motion.root_pos, quat, motion.joint_pos)
        keypoints = pos[:, robot.keypoint_body_ids]
        frames["root_pos"].append(motion.root_pos)
        frames["root_quat"].append(quat)
        frames["joint_pos"].append(motion.joint_pos)
        frames["joint_vel"].append(_derivative(motion.joint_pos, motion.fps))
        frames["root_lin_vel"].append(_derivative(motion.root_pos, motion.fps))
        frames["root_ang_vel"].append(_angular_velocity(quat, motion.fps))
        frames["keypoint_pos"].append(keypoints)
        frames["keypoint_vel"].append(_derivative(keypoints, motion.fps))
    lengths = np.array([m.num_frames for m in motions])
    meta = LibraryMeta(
        robot=robot.name,
        joint_names=robot.joint_names,
        keypoint_names=robot.keypoint_bodies,
        clip_names=tuple(str(n) for n in names),
        sources=tuple((str(a), str(b)) for a, b in sources),
    )
    return MotionLibrary(
        **{name: jnp.asarray(np.concatenate(parts), jnp.float32) for name, parts in frames.items()},
        clip_start=jnp.asarray(np.concatenate([[0], np.cumsum(lengths)[:-1]]), jnp.int32),
        clip_length=jnp.asarray(lengths, jnp.int32),
        clip_fps=jnp.asarray([m.fps for m in motions], jnp.float32),
        clip_weight=jnp.asarray(weights, jnp.float32),
        clip_mirror_of=jnp.asarray(mirror_of, jnp.int32),
        meta=meta,
    )


# ---------------------------------------------------------------------- sampling (inside jit)


def sample(lib: MotionLibrary, clip_ids, times) -> MotionFrame:
    """Reference state of clips `clip_ids` at `times` seconds (same shape, any batch shape).

    Positions, joints and velocities interpolate linearly between the two nearest frames, the root
    orientation by slerp. Times are clamped to [0, duration] of each clip. Pure and jit/vmap friendly.
    """
    clip_ids = jnp.asarray(clip_ids, jnp.int32)
    times = jnp.asarray(times, lib.clip_fps.dtype)
    length = lib.clip_length[clip_ids]
    position = jnp.clip(times * lib.clip_fps[clip_ids], 0.0, (length - 1).astype(times.dtype))
    first = jnp.minimum(jnp.floor(position).astype(jnp.int32), length - 1)
    second = jnp.minimum(first + 1, length - 1)
    alpha = position - first.astype(position.dtype)
    a = lib.clip_start[clip_ids] + first
    b = lib.clip_start[clip_ids] + second

    def lerp(x):
        w = alpha.reshape(alpha.shape + (1,) * (x.ndim - 1))
        return x[a] + w * (x[b] - x[a])

    return MotionFrame(
        root_pos=lerp(lib.root_pos),
        root_quat=quat_slerp(lib.root_quat[a], lib.root_quat[b], alpha),
        joint_pos=lerp(lib.joint_pos),
        joint_vel=lerp(lib.joint_vel),
        root_lin_vel=lerp(lib.root_lin_vel),
        root_ang_vel=lerp(lib.root_ang_vel),
        keypoint_pos=lerp(lib.keypoint_pos),
        keypoint_vel=lerp(lib.keypoint_vel),
    )


def sample_clips(lib: MotionLibrary, key, shape) -> jax.Array:
    """Clip ids drawn in proportion to `clip_weight`."""
    return jax.random.choice(key, lib.num_clips, shape=shape, p=lib.clip_weight / lib.clip_weight.sum())


def clip_motion(lib: MotionLibrary, index: int):
    """Clip `index` as a `RobotMotion` (numpy), e.g. to export or render it."""
    from mimicjax.motion.robot_files import RobotMotion

    if not 0 <= index < lib.num_clips:
        raise ValueError(f"the library has {lib.num_clips} clips, so clip {index} does not exist (use 0..{lib.num_clips - 1})")
    start, length = int(lib.clip_start[index]), int(lib.clip_length[index])
    frames = slice(start, start + length)
    return RobotMotion(
        fps=float(lib.clip_fps[index]),
        root_pos=np.asarray(lib.root_pos[frames], np.float64),
        root_quat=np.asarray(lib.root_quat[frames], np.float64),
        joint_pos=np.asarray(lib.joint_pos[frames], np.float64),
        joint_names=lib.meta.joint_names,
        source=lib.meta.sources[index][0],
        source_format="library",
    )


# ---------------------------------------------------------------------- files


def save_library(lib: MotionLibrary, path: str | os.PathLike) -> None:
    """Write the library as one npz (arrays + JSON metadata), atomically."""
    from mimicjax.io_utils import atomic_path

    arrays = {name: np.asarray(getattr(lib, name)) for name in (*_FRAME_FIELDS, *_CLIP_FIELDS)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(lib.meta.to_json()), **arrays)
            f.flush()
            os.fsync(f.fileno())


def _read_library_archive(path: Path):
    """(LibraryMeta, {name: array}) of a library file; every entry is read (and CRC-checked) here."""
    with np.load(path, allow_pickle=False) as archive:
        if "meta" not in archive.files:
            raise fail(path, "has no 'meta' entry, so it is not a mimicjax motion library", "build one with `mimicjax retarget ... --out LIB.npz`")
        meta_text = str(archive["meta"])
        if json.loads(meta_text).get("format") != FORMAT_TAG:
            raise fail(path, f"has format {json.loads(meta_text).get('format')!r}, expected {FORMAT_TAG!r}", "rebuild it with this version")
        meta = LibraryMeta.from_json(meta_text, path)
        missing = [k for k in (*_FRAME_FIELDS, *_CLIP_FIELDS) if k not in archive.files]
        if missing:
            raise fail(path, f"lacks the arrays {missing}", "rebuild it with `mimicjax retarget`")
        return meta, {k: archive[k] for k in (*_FRAME_FIELDS, *_CLIP_FIELDS)}


def load_library(path: str | os.PathLike) -> MotionLibrary:
    """Read a library written by `save_library`, checking its format and shapes."""
    path = Path(path)
    if not path.is_file():
        raise fail(path, "file not found", "check the path, or build a library with `mimicjax retarget ... --out LIB.npz`")
    try:
        meta, arrays = _read_library_archive(path)
    except MotionFormatError:
        raise
    except Exception as exc:  # a damaged archive fails inside any entry (bad CRC, truncated zlib stream, ...)
        raise fail(path, f"is not a readable npz file ({type(exc).__name__}: {exc})", "rebuild it with `mimicjax retarget`") from None
    frames = arrays["root_pos"].shape[0]
    clips = arrays["clip_start"].shape[0]
    for name in _FRAME_FIELDS:
        if arrays[name].shape[0] != frames:
            raise fail(path, f"'{name}' has {arrays[name].shape[0]} frames, 'root_pos' {frames}", "the file is damaged; rebuild it")
    if int(arrays["clip_length"].sum()) != frames or len(meta.clip_names) != clips:
        raise fail(path, "its clip table does not match its frames", "the file is damaged; rebuild it")
    bad = [name for name in _FRAME_FIELDS if not np.all(np.isfinite(arrays[name]))]
    if bad:
        raise fail(path, f"holds NaN or infinite values in {bad}", "the file is damaged; rebuild it with `mimicjax retarget`")
    ints = {"clip_start", "clip_length", "clip_mirror_of"}
    return MotionLibrary(**{k: jnp.asarray(v, jnp.int32 if k in ints else jnp.float32) for k, v in arrays.items()}, meta=meta)


def library_summary(lib: MotionLibrary) -> dict:
    """Plain-Python description of a library (for `mimicjax motions info`)."""
    duration = np.asarray(lib.clip_duration)
    return {
        "robot": lib.meta.robot,
        "clips": lib.num_clips,
        "frames": lib.num_frames,
        "total_seconds": float(duration.sum()),
        "joint_names": list(lib.meta.joint_names),
        "keypoint_names": list(lib.meta.keypoint_names),
        "clip_table": [
            {
                "index": i,
                "name": lib.meta.clip_names[i],
                "frames": int(lib.clip_length[i]),
                "fps": float(lib.clip_fps[i]),
                "seconds": float(duration[i]),
                "weight": float(lib.clip_weight[i]),
                "mirror_of": int(lib.clip_mirror_of[i]),
                "source": lib.meta.sources[i][0],
                "sha256": lib.meta.sources[i][1],
            }
            for i in range(lib.num_clips)
        ],
    }


__all__ = ["FORMAT_TAG", "LibraryMeta", "MotionFrame", "MotionFormatError", "MotionLibrary", "build_library", "clip_motion",
           "file_sha256", "library_summary", "load_library", "mirrored_motion", "sample", "sample_clips", "save_library"]


def with_mirrored_clips(lib: MotionLibrary) -> MotionLibrary:
    """`lib` plus a mirrored copy of each clip; unchanged if it already has mirrored clips."""
    if bool(np.any(np.asarray(lib.clip_mirror_of) >= 0)):
        return lib
    return build_library(
        [clip_motion(lib, i) for i in range(lib.num_clips)],
        robots.get(lib.meta.robot),
        names=lib.meta.clip_names,
        weights=np.asarray(lib.clip_weight),
        sources=lib.meta.sources,
        mirror=True,
    )
