"""G1 motion data: file readers/writers (`io`) and the checks and repairs every reader shares (`validate`)."""

from mimicjax.motion.io import G1Motion, load_g1_clips, load_g1_motion, save_g1_motion
from mimicjax.motion.validate import MotionFormatError, MotionRepairWarning

__all__ = ["G1Motion", "MotionFormatError", "MotionRepairWarning", "load_g1_clips", "load_g1_motion", "save_g1_motion"]
