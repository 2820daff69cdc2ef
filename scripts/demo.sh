#!/usr/bin/env bash
# Set up and run the main job on the embedded sample data; results go to runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mimicjax demo --out runs/demo "$@"
