"""CI smoke test: a handful of envs and 2 iterations, under 2 minutes on 2 CPU cores.

    mimicjax train --config experiments/smoke.py --run-dir runs/smoke
"""

from mimicjax.config import DistillConfig, ExperimentConfig, TrainConfig
from mimicjax.envs.tracking import TrackingConfig
from mimicjax.rl.dagger import DAggerConfig
from mimicjax.rl.networks import NetworkConfig
from mimicjax.rl.ppo import PPOConfig

SMALL_NETWORK = NetworkConfig(actor_hidden_sizes=(64, 64), critic_hidden_sizes=(64, 64))

CONFIG = ExperimentConfig(
    name="smoke",
    env=TrackingConfig(robot="g1_23dof"),
    network=SMALL_NETWORK,
    ppo=PPOConfig(epochs=2, minibatches=2, symmetry_coef=0.5),
    train=TrainConfig(num_envs=8, rollout_steps=8, iterations=2, checkpoint_every=1, keep_checkpoints=3),
    distill=DistillConfig(
        iterations=2, rollout_steps=8, dagger=DAggerConfig(beta_decay_iterations=2, epochs=2, minibatches=2),
        student_network=SMALL_NETWORK,
    ),
)
