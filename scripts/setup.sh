#!/usr/bin/env bash
# Create .venv (if missing) and install mimicjax into it. Usage: scripts/setup.sh [EXTRAS], e.g. "dev".
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
extras=${1:-}
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
