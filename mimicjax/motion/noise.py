"""Artefacts of motion lifted from generated videos, applied to SMPL-family sequences at levels 0-5.

    noisy = perturb(motion, level=3, seed=0)                      # every artefact at level 3
    noisy = perturb(motion, level=3, seed=0, artefacts=("jitter", "flicker"))
    mimicjax motions perturb data/motions/walk.npz --level 3 --seed 0 --out noisy/

Generated videos are temporally and morphologically inconsistent, and the pose estimators that lift them
(GVHMR, WHAM, TRAM, ...) add their own errors. Each artefact below is a small pure function of the motion,
a level in 0..5 (0: the motion unchanged, exactly) and a NumPy generator. The random draws do not depend
on the level, only their amplitude (or, for events, the probability threshold) does, so a higher level
perturbs the same motion strictly more: `artefact_error` grows with the level for a fixed seed (a test
checks it). Amplitudes at level 5 (they scale linearly with the level):

  jitter        white noise on every joint rotation, 0.10 rad per axis (estimator noise)
  wobble        low-frequency joint noise (below ~1 Hz), 0.20 rad per axis (slow pose drift)
  flicker       a limb (shoulder, elbow, hip or knee) turns by 2.5 rad for one frame, 5 % of frames
  frame_timing  frame-rate wobble (timestamps off by up to 0.1 s) and 15 % of frames duplicated in place
                of the next one (dropped and repeated frames)
  root_drift    the root wanders horizontally (smoothed random walk, 0.15 m/s), so the feet skate
  depth_drift   the root slides along the camera's viewing axis (a horizontal direction drawn per seed)
                at 0.3 m/s, the dominant error of monocular depth
  scale         the horizontal travel is scaled by 1 +- 12.5-25 % (a misjudged camera distance or body size)
  morphology    time-varying proportions: the horizontal travel scaled by 1 +- 20 % and the root height
                offset by +- 0.1 m, both varying slowly (limbs that grow and shrink between frames)

A single body shape (`betas`) per clip is all a `HumanMotion` holds, and the retargeting uses the
skeleton, so shape distortions are expressed through what they do to the trajectory (`scale`,
`morphology`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from mimicjax.human.formats import HumanMotion

LEVELS = (0, 1, 2, 3, 4, 5)
MAX_LEVEL = LEVELS[-1]

# SMPL body-pose joints (index into body_pose = SMPL joint - 1) of the limbs that flicker.
_LIMB_JOINTS = (0, 1, 3, 4, 15, 16, 17, 18)  # hips, knees, shoulders, elbows


def _fraction(level: float) -> float:
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"noise level {level} is outside 0..{MAX_LEVEL}")
    return float(level) / MAX_LEVEL


def _compose(rotvec: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Rotations `rotvec` (..., 3) turned by `delta` (..., 3), both axis-angle."""
    shape = rotvec.shape
    out = Rotation.from_rotvec(delta.reshape(-1, 3)) * Rotation.from_rotvec(rotvec.reshape(-1, 3))
    return out.as_rotvec().reshape(shape)


def _smooth_noise(rng: np.random.Generator, shape: tuple, fps: float, cutoff_hz: float) -> np.ndarray:
    """Gaussian noise low-passed below about `cutoff_hz` (a moving average), scaled back to unit std."""
    white = rng.normal(size=shape)
    width = max(1, int(round(fps / max(cutoff_hz, 1e-3))))
    kernel = np.ones(width) / width
    padded = np.pad(white, [(width, width)] + [(0, 0)] * (len(shape) - 1), mode="reflect")
    smooth = np.apply_along_axis(lambda x: np.convolve(x, kernel, mode="same"), 0, padded)[width:-width]
    return smooth / max(float(smooth.std()), 1e-9)


def _joint_rotations(motion: HumanMotion) -> np.ndarray:
    """(T, 1 + J, 3): the root orientation followed by the body pose."""
    return np.concatenate([motion.global_orient[:, None], motion.body_pose], axis=1)


def _with_joint_rotations(motion: HumanMotion, rotations: np.ndarray) -> HumanMotion:
    return motion.replace(global_orient=rotations[:, 0], body_pose=rotations[:, 1:])


# ---- the artefacts -----------------------------------------------------------------------------------


def jitter(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    rotations = _joint_rotations(motion)
    delta = rng.normal(size=rotations.shape) * 0.10 * _fraction(level)
    return _with_joint_rotations(motion, _compose(rotations, delta))


def wobble(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    rotations = _joint_rotations(motion)
    delta = _smooth_noise(rng, rotations.shape, motion.fps, cutoff_hz=1.0) * 0.20 * _fraction(level)
    return _with_joint_rotations(motion, _compose(rotations, delta))


def flicker(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    rotations = _joint_rotations(motion)
    draw = rng.uniform(size=motion.num_frames)
    limb = rng.choice(_LIMB_JOINTS, size=motion.num_frames)
    axis = rng.normal(size=(motion.num_frames, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    frames = np.flatnonzero(draw < 0.05 * _fraction(level))
    delta = np.zeros_like(rotations)
    delta[frames, 1 + limb[frames]] = 2.5 * axis[frames]
    return _with_joint_rotations(motion, _compose(rotations, delta))


def frame_timing(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    from mimicjax.human.formats import per_frame_channels
    from mimicjax.motion.validate import interpolate_at

    s = _fraction(level)
    times = np.arange(motion.num_frames) / motion.fps
    phase, rate = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.6)  # Hz of the frame-rate wobble
    warped = np.clip(times + 0.1 * s * np.sin(2 * np.pi * rate * times + phase), 0.0, times[-1])
    duplicated = rng.uniform(size=motion.num_frames) < 0.15 * s
    duplicated[0] = False
    source = np.arange(motion.num_frames)
    for i in np.flatnonzero(duplicated):  # this frame repeats the one before it (the real one is dropped)
        source[i] = source[i - 1]
    warped = warped[source]
    changes = {name: interpolate_at(values, kind, times, warped) for name, (values, kind) in per_frame_channels(motion).items()}
    return motion.replace(**changes)


def root_drift(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    velocity = _smooth_noise(rng, (motion.num_frames, 2), motion.fps, cutoff_hz=0.5) * 0.15 * _fraction(level)
    drift = np.cumsum(velocity, axis=0) / motion.fps
    transl = motion.transl.copy()
    transl[:, :2] += drift - drift[0]
    return motion.replace(transl=transl)


def depth_drift(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    heading = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(heading), np.sin(heading)])
    times = np.arange(motion.num_frames) / motion.fps
    transl = motion.transl.copy()
    transl[:, :2] += (0.3 * _fraction(level) * times)[:, None] * direction
    return motion.replace(transl=transl)


def scale(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    factor = 1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * 0.25 * _fraction(level)
    transl = motion.transl.copy()
    transl[:, :2] = transl[0, :2] + factor * (transl[:, :2] - transl[0, :2])
    return motion.replace(transl=transl)


def morphology(motion: HumanMotion, level: float, rng: np.random.Generator) -> HumanMotion:
    s = _fraction(level)
    slow = _smooth_noise(rng, (motion.num_frames, 2), motion.fps, cutoff_hz=0.3)
    slow = np.clip(slow, -2.0, 2.0) / 2.0  # within +-1
    transl = motion.transl.copy()
    travel = transl[:, :2] - transl[0, :2]
    transl[:, :2] = transl[0, :2] + (1.0 + 0.2 * s * slow[:, :1]) * travel
    transl[:, 2] += 0.1 * s * slow[:, 1]
    return motion.replace(transl=transl)


@dataclasses.dataclass(frozen=True)
class Artefact:
    name: str
    apply: Callable[[HumanMotion, float, np.random.Generator], HumanMotion]


ARTEFACTS = tuple(Artefact(f.__name__, f) for f in (
    jitter, wobble, flicker, frame_timing, root_drift, depth_drift, scale, morphology,
))
ARTEFACT_NAMES = tuple(a.name for a in ARTEFACTS)


def apply_artefact(motion: HumanMotion, name: str, level: float, seed: int = 0) -> HumanMotion:
    """One artefact at `level`; level 0 returns `motion` itself. Deterministic in (name, level, seed)."""
    if name not in ARTEFACT_NAMES:
        raise ValueError(f"unknown artefact {name!r}; choose from {', '.join(ARTEFACT_NAMES)}")
    _fraction(level)
    if level == 0:
        return motion
    index = ARTEFACT_NAMES.index(name)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), index]))
    return ARTEFACTS[index].apply(motion, level, rng)


def perturb(motion: HumanMotion, level: float, seed: int = 0, artefacts=ARTEFACT_NAMES) -> HumanMotion:
    """Every artefact in `artefacts` at `level`, applied in the order of ARTEFACTS (each with its own
    random stream of `seed`)."""
    unknown = sorted(set(artefacts) - set(ARTEFACT_NAMES))
    if unknown:
        raise ValueError(f"unknown artefact(s) {unknown}; choose from {', '.join(ARTEFACT_NAMES)}")
    for name in ARTEFACT_NAMES:
        if name in artefacts:
            motion = apply_artefact(motion, name, level, seed)
    return motion.replace(source=f"{motion.source} [noise level {level:g}, seed {seed}]" if level else motion.source)


def joint_positions(motion: HumanMotion) -> np.ndarray:
    """(T, 24, 3) SMPL skeleton joints in the world (what retargeting fits)."""
    from mimicjax.human.smpl import BodyModel, forward_motion

    return forward_motion(BodyModel.skeleton_only(), motion)["joints"][:, :24]


def artefact_error(clean: HumanMotion, noisy: HumanMotion) -> dict[str, float]:
    """Mean joint position error (m) of `noisy` against `clean`, frame by frame: global, and with each
    frame's root placed on the clean root (root-relative, the pose alone)."""
    a, b = joint_positions(clean), joint_positions(noisy)
    relative = (b - b[:, :1]) - (a - a[:, :1])
    return {"global": float(np.linalg.norm(b - a, axis=-1).mean()),
            "root_relative": float(np.linalg.norm(relative, axis=-1).mean())}


def error_table(motions: list[HumanMotion], seed: int = 0, levels=LEVELS) -> dict:
    """{artefact: {"global": [error per level], "root_relative": [...]}}, averaged over `motions` (m)."""
    table = {}
    for name in ARTEFACT_NAMES:
        rows = [[artefact_error(m, apply_artefact(m, name, level, seed)) for m in motions] for level in levels]
        table[name] = {kind: [float(np.mean([r[kind] for r in row])) for row in rows] for kind in ("global", "root_relative")}
    return table


def plot_error_table(table: dict, out, levels=LEVELS, title: str = "") -> None:
    """Joint position error against level, one line per artefact (global and root-relative panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mimicjax.io_utils import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for ax, kind, label in zip(axes, ("global", "root_relative"), ("global", "root-relative (pose only)")):
        for name, errors in table.items():
            ax.plot(levels, 100 * np.asarray(errors[kind]), marker="o", label=name)
        ax.set_xlabel("noise level")
        ax.set_ylabel("mean SMPL joint error (cm)")
        ax.set_title(f"{label} joint error")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


__all__ = ["ARTEFACTS", "ARTEFACT_NAMES", "LEVELS", "apply_artefact", "artefact_error", "error_table", "perturb",
           "plot_error_table"]
