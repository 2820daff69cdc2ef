#!/usr/bin/env bash
# The translator's first GPU measurement: Wan 2.2 TI2V-5B with random weights at the fine-tuning size of
# experiments/h2r_ti2v_5b.py (480x832, 49 frames, condition + target in context, LoRA r96, bf16, remat):
# seconds per LoRA training step, seconds per sampling step (one solver step with guidance), peak device
# memory. Then the transformer forward against diffusers at a medium size, where torch is installed.
# Writes OUT_DIR/finetune_5b.json (and translate_forward.json); prints both.
#
#   bash scripts/gpu_translate_check.sh [OUT_DIR] [extra `bench finetune` args, e.g. --set optim.grad_accumulation=4]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gpu_translate_check}
shift || true
source scripts/gpu_python.sh
mkdir -p "$out"
"$python" -m mimicjax.cli bench finetune --config experiments/h2r_ti2v_5b.py --preset wan2.2-ti2v-5b \
  --repeats 3 --json "$out/finetune_5b.json" "$@"
"$python" -m mimicjax.cli bench translate --configs small,medium --frames 8 --size 64 --repeats 5 --no-vae \
  --json "$out/translate_forward.json" || echo "bench translate failed (torch or diffusers missing?)" >&2
