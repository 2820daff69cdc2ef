"""Retargeting human motion onto a robot (the G1, the H1, ...): shape fit per subject, then batched keypoint IK in JAX.

`retarget_motions` (in `mimicjax.retarget.pipeline`) is the entry point; `mimicjax retarget` drives it
from the command line.
"""
