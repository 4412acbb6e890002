#!/usr/bin/env bash
# Rebuilds checkpoints/sr/{fast,diffusion} from real images and videos on this machine, then
# measures them on held-out footage (checkpoints/sr/eval_*.json). About 60 min on a shared 2-core
# CPU (each training run stops after its config's max_minutes; fast and diffusion run side by
# side).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# OpenCV's sample images and videos (Debian opencv-doc, Apache-2.0 / BSD-3-Clause).
if [ ! -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends opencv-doc
  else
    echo "install Debian's opencv-doc (sample images/videos) first: sudo apt-get install opencv-doc" >&2
    exit 1
  fi
fi
# Two rounds of a cosine schedule (the second a warm restart: configs' lr_cycles: 2).
rm -rf out/train_sr_fast out/train_sr_diffusion
nice -n 5 .venv/bin/avatarvid train sr --config configs/train/sr_fast.yaml &
fast=$!
nice -n 5 .venv/bin/avatarvid train sr --config configs/train/sr_diffusion.yaml
wait "$fast"
nice -n 5 .venv/bin/avatarvid study eval_sr --variants fast --json checkpoints/sr/eval_fast.json
# diffusion SR is ~10x slower: a shorter clip
nice -n 5 .venv/bin/avatarvid study eval_sr --frames 16 --face-frames 6 --variants fast diffusion \
  --json checkpoints/sr/eval_diffusion.json
