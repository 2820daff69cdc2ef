"""GenMimic's ablations at the CPU recipe's size: the full method, keypoint weighting off (uniform weights),
symmetry loss off; three seeds each, the same budget for all (one vmapped program of 9 runs), the full
method's teachers distilled into students, all benchmarked on the six sample motions perturbed like
generated-video motion at levels 0-3.

    mimicjax ablation experiments/ablations/genmimic_cpu.py --out runs/ablation_cpu
    mimicjax ablation experiments/ablations/genmimic_cpu.py --out runs/ablation_cpu --report-only

Budget: 1,500 PPO iterations per teacher (64 envs x 24 steps: 2.3M env steps; the one-core teacher of
`experiments/cpu_tracking.py` tracks 93 % of the sample clips after 1,800), 600 DAgger iterations per
student. `--set train.iterations=N` changes it for every run (all runs keep the same budget).
"""

from pathlib import Path

from mimicjax import config as config_lib

BASE = config_lib.apply_overrides(
    config_lib.load_experiment(Path(__file__).resolve().parents[1] / "cpu_tracking.py"),
    ["name='genmimic_ablation_cpu'", "train.iterations=1500", "train.checkpoint_every=100"],
)
UNIFORM = {"end_effector": 1.0, "upper": 1.0, "lower": 1.0}
VARIANTS = {
    "full": {},
    "uniform_keypoints": {"env.rewards.keypoint_group_weights": UNIFORM},
    "no_symmetry": {"ppo.symmetry_coef": 0.0},
}
GRID = {"seed": [0, 1, 2]}
STUDENTS = ["full"]
BENCHMARK = {
    "motions": [f"data/motions/{clip}.npz" for clip in ("walk", "wave", "squat", "side_step", "turn", "bow")],
    "levels": [0, 1, 2, 3],
    "random_starts": 4,
}
