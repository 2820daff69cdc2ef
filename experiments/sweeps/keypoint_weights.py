"""Keypoint-group weights of GenMimic's tracking reward: end effectors favoured, the default, and uniform.

Two seeds each, on the CI smoke configuration (short runs, small networks); point BASE at
`../g1_tracking.py` (and pass --motions LIB.npz) for the real experiment on a GPU.

    mimicjax sweep experiments/sweeps/keypoint_weights.py --out runs/sweeps/keypoint_weights
    mimicjax sweep experiments/sweeps/keypoint_weights.py --set train.iterations=50 --set train.num_envs=64

The six points differ only in reward weights and seeds, so they train as one vmapped program (one
compile). Each point is a run directory with TensorBoard scalars, including the per-group keypoint errors
(env/error/keypoint_end_effector, _upper, _lower); `notebooks/reward_ablation.ipynb` plots them.
"""

BASE = "../smoke.py"

GRID = {
    "env.rewards.keypoint_group_weights": [
        {"end_effector": 4.0, "upper": 1.0, "lower": 0.5},  # end effectors first
        {"end_effector": 2.0, "upper": 1.0, "lower": 0.5},  # the GenMimic default (g1.KEYPOINT_GROUP_WEIGHTS)
        {"end_effector": 1.0, "upper": 1.0, "lower": 1.0},  # uniform
    ],
    "seed": [0, 1],
}
