#!/usr/bin/env bash
# Rebuilds checkpoints/renderer (the shipped diffusion renderer) on a 2-core CPU.
# Training photos come from Debian's opencv-doc package; the astronaut is held out.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/doc/opencv-doc/opencv4/html ]; then
  echo "needs the training photos: apt-get install -y opencv-doc" >&2
  exit 1
fi
[ -x .venv/bin/avatarvid ] || bash scripts/setup.sh
rm -rf out/renderer_work
/usr/bin/time -v .venv/bin/avatarvid train renderer --config configs/train/renderer.yaml
