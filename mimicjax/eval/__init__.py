"""Evaluation of tracking policies (teachers and students): success rate, keypoint errors, robustness to
noisy goals, videos. `mimicjax eval --run-dir D` drives it; see `commands.evaluate` for the Python API.
"""

# A random-start evaluation episode leaves at least this much of its clip to track (the whole clip when
# the clip is shorter); `mimicjax eval --min-remaining` overrides it. Here, not in rollout.py, so that
# the command line can show it without importing JAX.
MIN_REMAINING_SECONDS = 1.0
