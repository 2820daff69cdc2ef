"""The quick-start demo: a short teacher run and its distillation on the sample motions, sized to finish
in about ten minutes on a 2-core CPU (`mimicjax demo` runs it; see README)."""

from mimicjax.config import DistillConfig, ExperimentConfig, TrainConfig
from mimicjax.envs.tracking import TrackingConfig
from mimicjax.rl.dagger import DAggerConfig
from mimicjax.rl.networks import NetworkConfig
from mimicjax.rl.ppo import PPOConfig

NETWORK = NetworkConfig(actor_hidden_sizes=(128, 128), critic_hidden_sizes=(128, 128), init_std=0.5)  # see cpu_tracking.py

CONFIG = ExperimentConfig(
    name="demo",
    env=TrackingConfig(robot="g1_23dof"),
    network=NETWORK,
    ppo=PPOConfig(epochs=4, minibatches=4, symmetry_coef=0.5),
    train=TrainConfig(num_envs=32, rollout_steps=24, iterations=500, checkpoint_every=100, keep_checkpoints=2),
    distill=DistillConfig(
        iterations=150, rollout_steps=24, dagger=DAggerConfig(beta_decay_iterations=100, epochs=4, minibatches=4),
        student_network=NETWORK,
    ),
)
