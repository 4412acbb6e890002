#!/usr/bin/env bash
# Renders the bundled example (photo + espeak-ng speech) to demo.mp4 with the default preset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/avatarvid vlog --image examples/astronaut.png --audio examples/speech.wav \
  -o "${1:-demo.mp4}" "${@:2}"
