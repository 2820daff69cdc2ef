"""H2R-Grounder's fine-tuning of Wan 2.2 TI2V-5B on one H200: real weights only, given by the user
(nothing is downloaded):

    mimicjax translate convert --diffusers Wan2.2-TI2V-5B-Diffusers/transformer --out ckpt_5b --param-dtype bfloat16
    mimicjax translate finetune --config experiments/h2r_ti2v_5b.py --data DATASET --run-dir runs/h2r_5b \\
        --ckpt ckpt_5b --vae Wan2.2-TI2V-5B-Diffusers/vae --text-encoder Wan2.2-TI2V-5B-Diffusers

Settings follow the paper's summaries and its sister recipe (Mitty): 10 fps clips of 49 frames at
480x832, LoRA rank 96 on the self-attention projections, a trainable condition patch embedding,
condition tokens masked from the target, AdamW 1e-4, text dropout 0.1, shift 5; batch 4 as 2 x 2
accumulated micro-batches (the paper: 4 per step with accumulation 2 on 8 GPUs). bfloat16 compute and
frozen weights, float32 trainable weights, rematerialised blocks.
"""

from mimicjax.translate.finetune_config import (
    DataConfig, FinetuneConfig, FlowConfig, ModelConfig, OptimConfig, StepsConfig,
)
from mimicjax.translate.lora import LoRAConfig

CONFIG = FinetuneConfig(
    name="h2r_ti2v_5b",
    data=DataConfig(width=832, height=480, frames=49, fps=10.0, held_out_fraction=0.01, batch_size=4),
    model=ModelConfig(preset="", vae_preset="", dtype="bfloat16", param_dtype="bfloat16", remat=True,
                      separate_condition_embedding=True, mask_condition_to_target=True),
    lora=LoRAConfig(rank=96, alpha=96.0, targets=("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out")),
    optim=OptimConfig(learning_rate=1e-4, warmup_steps=200, grad_accumulation=2),
    flow=FlowConfig(shift=5.0, text_dropout=0.1),
    train=StepsConfig(steps=20_000, checkpoint_every=500, eval_every=500, eval_sigmas=4, sample_every=2000),
)
