"""`avatarvid ui`: a Gradio web app over the Python API (avatarvid.vlog / animate / upscale).

app.py lays out the tabs, handlers.py turns clicks into API calls, jobs.py owns the app's
temporary folder, cancel events and error messages, batch.py and quality.py serve the Batch and
Quality report tabs. Gradio is an optional extra: `pip install 'avatarvid[ui]'`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from avatarvid.errors import AvatarvidError

INSTALL_HINT = "the web UI needs gradio; install it with: pip install 'avatarvid[ui]'"


def require_gradio():
    """The gradio module, or one AvatarvidError that says how to install it."""
    try:
        import gradio
    except ImportError:
        raise AvatarvidError(INSTALL_HINT) from None
    return gradio


def make_root() -> Path:
    """The app's temporary folder, made before gradio is imported: gradio reads its upload
    folder (GRADIO_TEMP_DIR) at import time, and uploads must land inside this folder too."""
    root = Path(tempfile.mkdtemp(prefix="avatarvid-ui-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return root
