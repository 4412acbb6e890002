"""`avatarvid ui`: a Gradio web app over the Python API (avatarvid.vlog / animate / upscale).

app.py lays out the tabs, handlers.py turns clicks into API calls, jobs.py owns the app's
temporary folder, cancel events and error messages, batch.py and quality.py serve the Batch and
Quality report tabs. Gradio is an optional extra: `pip install 'avatarvid[ui]'`.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

from avatarvid.errors import AvatarvidError

INSTALL_HINT = "the web UI needs gradio; install it with: pip install 'avatarvid[ui]'"


def require_gradio() -> None:
    """One AvatarvidError that says how to install gradio when it is missing (checked without
    importing it: gradio must be imported only after make_root())."""
    try:
        found = importlib.util.find_spec("gradio") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["gradio"] is None
        found = False
    if not found:
        raise AvatarvidError(INSTALL_HINT)


def make_root() -> Path:
    """The app's temporary folder, made before gradio is imported: gradio reads its upload
    folder (GRADIO_TEMP_DIR) at import time, and uploads must land inside this folder too."""
    root = Path(tempfile.mkdtemp(prefix="avatarvid-ui-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return root
