"""Human motion input: SMPL-family readers (`formats`) and the JAX body model (`smpl`).

`formats` needs only numpy/scipy; the body model (JAX) is imported on first use of its names.
"""

from mimicjax.human.formats import FORMATS, HumanMotion, detect_up_axis, load_human_motion, resample, save_amass_npz
from mimicjax.motion.validate import MotionFormatError, MotionRepairWarning

_SMPL_NAMES = ("BodyModel", "forward", "forward_motion", "forward_rotations", "SMPL_JOINT_NAMES", "SMPL_PARENTS", "neutral_rest_joints")


def __getattr__(name):
    if name in _SMPL_NAMES:
        from mimicjax.human import smpl

        return getattr(smpl, name)
    raise AttributeError(f"module 'mimicjax.human' has no attribute {name!r}")


__all__ = [
    "FORMATS",
    "HumanMotion",
    "MotionFormatError",
    "MotionRepairWarning",
    "detect_up_axis",
    "load_human_motion",
    "resample",
    "save_amass_npz",
    *_SMPL_NAMES,
]
