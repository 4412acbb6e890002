#!/usr/bin/env bash
# Creates .venv with everything avatarvid needs (idempotent; quick when already done).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
# espeak-ng (Debian): the motion data engine and its tests call libespeak-ng through ctypes.
if ! dpkg -s espeak-ng >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
  else
    echo "warning: espeak-ng missing; install it (apt-get install espeak-ng)" >&2
  fi
fi
stamp=.venv/.setup-$(sha1sum pyproject.toml requirements.lock scripts/setup.sh | sha1sum | cut -c1-12)
if [ -f "$stamp" ]; then exit 0; fi
echo "setting up .venv (first run only) ..." >&2
"$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned, so nothing pulls a CUDA build; then the tested versions of everything
# (requirements.lock, which includes the dev tools and the optional ray); mediapipe without
# its jax/GUI-opencv extras; avatarvid itself last, with nothing left to resolve.
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -r requirements.lock
.venv/bin/pip install -q --no-deps "mediapipe==0.10.21"
.venv/bin/pip install -q --no-deps -e .
rm -f .venv/.setup-*
touch "$stamp"
