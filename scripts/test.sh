#!/usr/bin/env bash
# Set up (with the test extras) and run the whole test suite, one pytest-xdist worker per core (at most
# 4), whole test files (or the groups of files in tests/conftest.py) per worker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
exec .venv/bin/python -m pytest -n auto --maxprocesses=4 --dist loadgroup "$@"
