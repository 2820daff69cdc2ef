"""Configuration of `mimicjax translate finetune`: frozen dataclasses, loaded from `experiments/h2r_*.py`.

An experiment file defines `CONFIG = FinetuneConfig(...)`; `--set section.field=value` overrides any
field (`mimicjax.config.apply_overrides`), and the resolved config is saved with every checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from mimicjax import config as config_lib
from mimicjax.config import ConfigError, check_counts, refuse_non_finite
from mimicjax.translate.lora import LoRAConfig
from mimicjax.translate.wan.text_encoder import H2R_PROMPT

# What `--resume` may change (the schedule, the optimiser's rates, the objective), and must not.
RESUME_MAY_CHANGE = ("name", "train.", "optim.", "flow.")
RESUME_MUST_KEEP = ()


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Training clips: (H2Rep condition, robot video) pairs, resized and resampled to one grid."""

    width: int = 64
    height: int = 64
    frames: int = 9  # 1 + 4k: the Wan VAE encodes the first frame alone, then groups of four
    fps: float = 10.0
    held_out_fraction: float = 0.2  # clips kept out of training for the held-out flow loss (at least one)
    split_seed: int = 0
    batch_size: int = 4  # clips per optimiser step (over all devices and accumulation steps)
    prompt: str = H2R_PROMPT
    # Tokens of the random stand-in prompt embeddings used when no text encoder or embeddings are given
    # (random-weight runs only; real weights need the umT5 embeddings).
    random_text_tokens: int = 16

    def __post_init__(self):
        check_counts(self, "data", ("width", "height", "frames", "batch_size", "random_text_tokens"))
        if self.frames % 4 != 1:
            raise ConfigError(f"data.frames must be 1 + 4k (1, 5, 9, ..., 49, 81) for the Wan VAE, got {self.frames}")
        if not self.fps > 0:
            raise ConfigError(f"data.fps must be positive, got {self.fps}")
        if not 0 < self.held_out_fraction < 1:
            raise ConfigError(f"data.held_out_fraction must be in (0, 1), got {self.held_out_fraction}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The transformer and VAE: presets for random-weight runs, the runtime options for all."""

    # Architecture of a randomly initialised transformer when no --ckpt is given; "" means --ckpt is required.
    preset: str = "tiny"
    # A random-weight VAE when no --vae is given (`mimicjax.translate.wan.vae.PRESETS`); "": --vae is required.
    vae_preset: str = "tiny"
    dtype: str = "float32"  # compute dtype ("bfloat16" on accelerators); trainable weights stay float32
    param_dtype: str = "float32"  # storage dtype of the frozen weights
    remat: bool = False  # recompute each block in the backward pass (activation memory of one block)
    attention: str = "auto"
    # A trainable copy of the patch embedding for the condition tokens, saved with the LoRA.
    separate_condition_embedding: bool = False
    # Condition tokens attend only to condition tokens.
    mask_condition_to_target: bool = False

    def __post_init__(self):
        for name in ("dtype", "param_dtype"):
            if getattr(self, name) not in ("float32", "bfloat16"):
                raise ConfigError(f"model.{name} must be 'float32' or 'bfloat16', got {getattr(self, name)!r}")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """AdamW with a linear warm-up to a constant rate, global-norm clipping, gradient accumulation."""

    learning_rate: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    b1: float = 0.9
    b2: float = 0.999
    max_grad_norm: float = 1.0
    # Micro-batches per optimiser step: data.batch_size / grad_accumulation clips go through the model at once.
    grad_accumulation: int = 1

    def __post_init__(self):
        check_counts(self, "optim", ("grad_accumulation",))
        if self.warmup_steps < 0 or self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ConfigError("optim.learning_rate and optim.max_grad_norm must be positive, optim.warmup_steps >= 0")


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """The flow-matching objective (see `mimicjax.translate.flow`)."""

    shift: float = 5.0  # training noise levels are shifted like the sampler's
    sigma_distribution: str = "uniform"  # or "logit_normal"
    weighting: str = "none"  # or "bell"
    text_dropout: float = 0.1  # chance a clip trains with the empty prompt (what guidance's negative branch is)

    def __post_init__(self):
        if not 0 <= self.text_dropout <= 1:
            raise ConfigError(f"flow.text_dropout must be in [0, 1], got {self.text_dropout}")
        if self.sigma_distribution not in ("uniform", "logit_normal"):
            raise ConfigError(f"flow.sigma_distribution must be 'uniform' or 'logit_normal', got {self.sigma_distribution!r}")
        if self.weighting not in ("none", "bell"):
            raise ConfigError(f"flow.weighting must be 'none' or 'bell', got {self.weighting!r}")


@dataclasses.dataclass(frozen=True)
class StepsConfig:
    """How long and how often: what the training driver (`mimicjax.train.driver.drive`) reads."""

    steps: int = 1000
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    log_every: int = 1
    eval_every: int = 100  # the held-out flow loss (also before the first step and after the last)
    eval_sigmas: int = 4  # noise levels per held-out clip (fixed, with fixed noise: comparable across steps)
    # A preview video in TensorBoard (and `videos/` in the run) every this many steps: the first held-out
    # clip's H2Rep | the fine-tuned model's sample | the real video, decoded; 0: none.
    sample_every: int = 0
    sample_steps: int = 10  # solver steps of the preview's sampler (with guidance, the training shift)
    max_minutes: float = 0.0  # stop with a checkpoint after this much wall time; 0: no limit
    mesh: tuple[int, int, int] = (-1, 1, 1)  # devices along (data, fsdp, tensor); -1: the rest

    def __post_init__(self):
        check_counts(self, "train", ("steps", "checkpoint_every", "keep_checkpoints", "log_every", "eval_every",
                                     "eval_sigmas", "sample_steps"))
        if self.sample_every < 0:
            raise ConfigError(f"train.sample_every must be 0 (no preview videos) or a number of steps, got {self.sample_every}")
        if not (self.max_minutes >= 0 and math.isfinite(self.max_minutes)):
            raise ConfigError(f"train.max_minutes must be a finite number >= 0 (0: no limit), got {self.max_minutes}")


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    name: str = "h2r"
    seed: int = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    lora: LoRAConfig = LoRAConfig()
    optim: OptimConfig = OptimConfig()
    flow: FlowConfig = FlowConfig()
    train: StepsConfig = StepsConfig()

    def __post_init__(self):
        refuse_non_finite(self)
        if self.data.batch_size % self.optim.grad_accumulation:
            raise ConfigError(f"data.batch_size ({self.data.batch_size}) must be a multiple of optim.grad_accumulation "
                              f"({self.optim.grad_accumulation})")


def load_finetune_config(path: str | Path) -> FinetuneConfig:
    """The `CONFIG` of a fine-tuning experiment file (`experiments/h2r_*.py`)."""
    path = Path(path)
    config = getattr(config_lib.load_python_file(path, "experiment"), "CONFIG", None)
    if not isinstance(config, FinetuneConfig):
        raise ConfigError(f"{path} must define CONFIG = FinetuneConfig(...) (mimicjax.translate.finetune_config)")
    return config


def saved_finetune_config(data: dict) -> FinetuneConfig:
    """The `FinetuneConfig` of a run's saved config dict."""
    return config_lib.from_dict(FinetuneConfig, data)
