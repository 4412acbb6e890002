#!/usr/bin/env bash
# Rebuilds checkpoints/motion/ from scratch on this machine: espeak-ng speech corpus with
# phoneme-timed targets (out/motion_tts, ~1 min) -> training (configs/train/motion.yaml, stops
# after its max_minutes: 32) -> held-out evaluation (checkpoints/motion/eval.json, ~10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
nice -n 5 .venv/bin/avatarvid data tts --out out/motion_tts --hours 1.5
rm -rf out/train_motion
nice -n 5 .venv/bin/avatarvid train motion --config configs/train/motion.yaml
nice -n 5 .venv/bin/avatarvid study eval_motion --data out/motion_tts \
  --json checkpoints/motion/eval.json
