#!/usr/bin/env bash
# Sets up .venv if needed (with the web UI's extras and Debian chromium for its browser test),
# lints, checks the formatting (`ruff format`), and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_ui.sh
.venv/bin/ruff check avatarvid tests scripts
.venv/bin/ruff format --check avatarvid tests scripts
.venv/bin/python -m pytest -q "$@"
