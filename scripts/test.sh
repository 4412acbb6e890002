#!/usr/bin/env bash
# Sets up .venv if needed, lints, and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check avatarvid tests scripts
.venv/bin/python -m pytest -q "$@"
