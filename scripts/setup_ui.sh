#!/usr/bin/env bash
# The web UI's extras (`avatarvid ui` and tests/test_ui.py): Debian chromium for the browser test
# and the pinned gradio + playwright into .venv. Idempotent: quick when already done.
# Call it after scripts/setup.sh (it needs .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: chromium missing; the browser test will be skipped (apt-get install chromium)" >&2
  fi
fi
stamp=.venv/.setup-ui-$(sha1sum scripts/requirements-ui.txt scripts/setup_ui.sh | sha1sum | cut -c1-12)
if [ -f "$stamp" ]; then exit 0; fi
echo "installing the web UI extras into .venv ..." >&2
# gradio's metadata caps pillow < 13 while requirements.lock has pillow 13.0.0 (works, tested):
# its dependencies are pinned in requirements-ui.txt, held to the lock's versions, and gradio
# itself goes in without resolving. Never `playwright install`: the tests use system chromium.
.venv/bin/pip install -q -r scripts/requirements-ui.txt -c requirements.lock
.venv/bin/pip install -q --no-deps "gradio==6.31.0"
rm -f .venv/.setup-ui-*
touch "$stamp"
