#!/usr/bin/env bash
# The first thing to run on a GPU: 8 minutes of teacher training with experiments/g1_tracking.py (4,096
# envs, one GPU), then an evaluation of the result. Prints one JSON line (also OUT/summary.json): env
# steps/s, the first iteration's seconds (compile included), iterations, env steps and the success rate.
#
#   bash scripts/gpu_tracking_check.sh [OUT_DIR] [extra mimicjax train args, e.g. --set env.sim.impl="jax"]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gpu_check}
shift || true
source scripts/gpu_python.sh
if [ -e "$out/teacher" ]; then
  echo "$out/teacher exists: choose another OUT_DIR (or remove it)" >&2
  exit 2
fi
"$python" -m mimicjax.cli train --config experiments/g1_tracking.py --run-dir "$out/teacher" \
  --set train.max_minutes=8 "$@"
"$python" -m mimicjax.cli eval --run-dir "$out/teacher" --json "$out/eval.json" --no-log
"$python" - "$out" <<'PY'
import json, statistics, sys
from pathlib import Path

from mimicjax.train.run_log import read_jsonl

out = Path(sys.argv[1])
rows = [r for r in read_jsonl(out / "teacher" / "scalars.jsonl") if "perf/env_steps" in r]
evaluation = json.loads((out / "eval.json").read_text())
steady = [r["perf/env_steps_per_s"] for r in rows[1:]] or [rows[0]["perf/env_steps_per_s"]]
summary = {
    "env_steps_per_s": statistics.median(steady),
    "first_iteration_s": rows[0].get("perf/first_iteration_s"),
    "iterations": rows[-1]["step"],
    "env_steps": rows[-1]["perf/env_steps"],
    "train_termination_rate_last": rows[-1].get("episode/termination_rate"),
    "success_rate": evaluation.get("success_rate"),
    "keypoint_error_m": evaluation.get("keypoint_error"),
}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps(summary))
PY
