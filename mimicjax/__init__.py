"""mimicjax: humanoid robot behaviour from human videos, in JAX.

Two halves share one accelerator runtime:
  * GenMimic: human motion -> G1 retargeting -> MJX tracking envs -> PPO teacher -> DAgger student.
  * H2R-Grounder: a Flax port of the Wan video diffusion transformer for human->robot video translation.

Importing the package is cheap: subpackages import JAX/MuJoCo only when used.
"""

from mimicjax import _runtime_env

_runtime_env.configure()

__version__ = "0.1.0"
