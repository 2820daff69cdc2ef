"""H2R translator fine-tuning at tiny size: random-weight Wan transformer (`tiny` preset) and VAE, a CPU
trains it in minutes. It checks the whole fine-tuning path (data cache, in-context flow matching, LoRA,
checkpoints, resume, held-out loss), not translation quality.

    mimicjax translate make-data --out h2rep_data --videos 24 --size 128x96
    mimicjax translate prepare robot --dataset h2rep_data
    mimicjax translate finetune --config experiments/h2r_tiny.py --data h2rep_data --run-dir runs/h2r_tiny

Scores of decoded videos need a VAE that reconstructs (a random one decodes to noise): render with
`make-data --gripper-colour cyan`, fit one with `translate fit-vae --config experiments/h2r_tiny.py`, pass it
to `finetune --vae`, then `translate eval --run-dir RUN` and `translate run HUMAN.mp4 --ckpt RUN ...`
(experiments/results/h2r_finetune_tiny.md).
"""

from mimicjax.translate.finetune_config import (
    DataConfig, FinetuneConfig, FlowConfig, ModelConfig, OptimConfig, StepsConfig,
)
from mimicjax.translate.lora import LoRAConfig

CONFIG = FinetuneConfig(
    name="h2r_tiny",
    data=DataConfig(width=64, height=64, frames=9, fps=5.0, held_out_fraction=0.25, batch_size=4),
    model=ModelConfig(preset="tiny", vae_preset="tiny", separate_condition_embedding=True,
                      mask_condition_to_target=True),
    lora=LoRAConfig(rank=8, alpha=8.0, targets=("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out")),
    optim=OptimConfig(learning_rate=2e-3, warmup_steps=10, grad_accumulation=2),
    flow=FlowConfig(shift=3.0, text_dropout=0.1),
    train=StepsConfig(steps=1000, checkpoint_every=250, eval_every=100, eval_sigmas=4, sample_every=250),
)
