"""GenMimic's ablations sized for one GPU (`experiments/g1_tracking.py`: 4,096 envs, domain randomisation
on): the full method, keypoint weighting off, symmetry loss off; three seeds each, trained as one
vmapped program (9 x 4,096 envs on one device: lower `train.num_envs` if memory runs short), the full
method's teachers distilled, all benchmarked at noise levels 0-5. Pass the retargeted real clips with
--motions and the SMPL files to benchmark on with --benchmark-motions (none are in the repository but
the sample clips, the default).

    mimicjax ablation experiments/ablations/genmimic_gpu.py --out runs/ablation_gpu --motions LIB.npz \\
        --benchmark-motions ../shared/reference/smpl/asap_tairantestbed/*.npz
"""

from pathlib import Path

from mimicjax import config as config_lib

BASE = config_lib.apply_overrides(
    config_lib.load_experiment(Path(__file__).resolve().parents[1] / "g1_tracking.py"),
    ["name='genmimic_ablation_gpu'", "train.iterations=10000"],
)
# The same methods, seeds and students as the CPU ablation.
_CPU = config_lib.load_python_file(Path(__file__).with_name("genmimic_cpu.py"), "ablation")
VARIANTS, GRID, STUDENTS = _CPU.VARIANTS, _CPU.GRID, _CPU.STUDENTS
BENCHMARK = {
    "motions": [f"data/motions/{clip}.npz" for clip in ("walk", "wave", "squat", "side_step", "turn", "bow")],
    "levels": [0, 1, 2, 3, 4, 5],
    "random_starts": 4,
}
