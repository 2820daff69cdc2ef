"""Evaluation of tracking policies (teachers and students): success rate, keypoint errors, robustness to
noisy goals, videos. `mimicjax eval --run-dir D` drives it; see `commands.evaluate` for the Python API.
"""
