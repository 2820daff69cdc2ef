"""GenMimic teacher training on a GPU: 4096 G1 envs, 29-DoF, symmetry loss on.

    mimicjax train --config experiments/g1_tracking.py --run-dir runs/g1 --motions LIB.npz
"""

from mimicjax.config import ExperimentConfig, TrainConfig
from mimicjax.envs.sim import SimConfig
from mimicjax.envs.tracking import TrackingConfig
from mimicjax.rl.ppo import PPOConfig

CONFIG = ExperimentConfig(
    name="g1_tracking",
    env=TrackingConfig(sim=SimConfig(variant="29dof", impl="auto")),
    ppo=PPOConfig(symmetry_coef=1.0),
    train=TrainConfig(num_envs=4096, rollout_steps=24, iterations=30_000, checkpoint_every=500),
)
