"""GenMimic teacher training on one GPU (sized for an H200): 4096 G1 envs, 29-DoF, symmetry loss on,
domain randomisation on.

    mimicjax train --config experiments/g1_tracking.py --run-dir runs/g1 --motions LIB.npz
    bash scripts/gpu_tracking_check.sh      # the first run on a new GPU: 8 minutes, then an evaluation

The initial action std is 0.5 as in the CPU recipe (`experiments/cpu_tracking.py`): at 1.0 the
action-rate penalty of exploration noise alone outweighs the whole tracking reward.
"""

from mimicjax.config import ExperimentConfig, TrainConfig
from mimicjax.envs.sim import SimConfig
from mimicjax.envs.tracking import TrackingConfig
from mimicjax.rl.networks import NetworkConfig
from mimicjax.rl.ppo import PPOConfig

CONFIG = ExperimentConfig(
    name="g1_tracking",
    env=TrackingConfig(robot="g1_29dof", sim=SimConfig(impl="auto")),
    network=NetworkConfig(init_std=0.5),
    ppo=PPOConfig(symmetry_coef=1.0),
    train=TrainConfig(num_envs=4096, rollout_steps=24, iterations=30_000, checkpoint_every=500),
)
