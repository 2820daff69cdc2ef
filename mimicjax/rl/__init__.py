"""Env-agnostic reinforcement learning: networks, observation normalisation, PPO, symmetry, DAgger.

Everything here is a pure function of pytrees (`TrainState`, `Rollout`, `RunningStats`); the Python
objects (`ActorCritic`, `PPOConfig`, `Symmetry`) hold configuration only.
"""
