"""Robot motion data: file readers/writers (`robot_files`), the checks and repairs every reader shares (`validate`) and
the packed `MotionLibrary` (`library`).

Names are imported on first use, so `mimicjax --help` (which imports `mimicjax.motion.commands`) stays fast.
"""

_FILE_NAMES = ("RobotMotion", "load_robot_clips", "load_robot_motion", "save_robot_motion")
_VALIDATE_NAMES = ("MotionFormatError", "MotionRepairWarning")


def __getattr__(name):
    if name in _FILE_NAMES:
        from mimicjax.motion import robot_files

        return getattr(robot_files, name)
    if name in _VALIDATE_NAMES:
        from mimicjax.motion import validate

        return getattr(validate, name)
    raise AttributeError(f"module 'mimicjax.motion' has no attribute {name!r}")


__all__ = ["MotionFormatError", "MotionRepairWarning", "RobotMotion", "load_robot_clips", "load_robot_motion", "save_robot_motion"]
