"""Quiet, lazy access to mediapipe's legacy `solutions` graphs.

mediapipe takes ~1 s to import, so it is imported on first use; its C++ side logs straight to
file descriptor 2 (XNNPACK delegate, W0000 feedback-manager lines), which Python's
`sys.stderr` cannot catch, so graph construction and first runs go through silenced_stderr().
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Self

import numpy as np


def mediapipe_solutions() -> ModuleType:
    """Import mediapipe with its C++ logging turned down and return `mediapipe.solutions`."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import mediapipe as mp

    return mp.solutions


# Graphs run on several threads at once (animate's driver pass), and fd 2 is the process's:
# the first thread in points it at /dev/null and the last one out restores it. (Each thread
# saving and restoring fd 2 on its own left it pointing at /dev/null for good when two
# overlapped, and every later error line and progress bar was lost.)
_quiet_lock = threading.Lock()
_quiet_users = 0
_saved_stderr = -1


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration, then restore it (thread-safe)."""
    global _quiet_users, _saved_stderr
    with _quiet_lock:
        if _quiet_users == 0:
            sys.stderr.flush()
            _saved_stderr = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Mediapipe needs a C-contiguous HxWx3 uint8 array; anything else is a caller bug."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


class MediapipeGraph:
    """One `solutions` graph, built quietly and run once on a blank frame; a context manager.

    The graph loads its models on worker threads after the constructor returns and they log
    as they go; the blank frame waits for them (process() ends with wait_until_idle).
    """

    def __init__(self, build: Callable[[ModuleType], Any]) -> None:
        solutions = mediapipe_solutions()
        with silenced_stderr():
            self._graph = build(solutions)
            self._graph.process(np.zeros((64, 64, 3), np.uint8))

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
