"""What a caller controls while a pipeline runs: progress reports, cancellation, the device.

progress(stage, done, total) is called from the rendering thread: stage names are
"perception", "audio", "motion", "render", "encode" (vlog), "reference", "driver" (animate),
"upscale"; in frame loops done/total count frames (total None when unknown).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from avatarvid.errors import Cancelled

Progress = Callable[[str, int, "int | None"], None]


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The default: nobody is listening."""


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise Cancelled when the caller set `cancel` (checked between frames)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled; no output was written")


def model_device(name: str, needs_model: bool) -> str:
    """The torch device the networks go to. torch is imported only when a network runs or a
    device other than the CPU is asked for, so the warp + procedural path starts light; an
    absent device is an InputError (avatarvid.device.resolve_device)."""
    if name == "cpu" or (name == "auto" and not needs_model):
        return "cpu"
    from avatarvid.device import resolve_device

    return str(resolve_device(name))
