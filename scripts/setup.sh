#!/usr/bin/env bash
# Creates .venv with everything avatarvid needs (idempotent; quick when already done).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.setup-$(sha1sum pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)
if [ -f "$stamp" ]; then exit 0; fi
echo "setting up .venv (first run only) ..." >&2
"$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned, so nothing pulls a CUDA build; mediapipe without its jax/GUI-opencv extras.
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q --no-deps "mediapipe==0.10.21"
.venv/bin/pip install -q -e ".[dev]"
rm -f .venv/.setup-*
touch "$stamp"
