"""Decode the next frames on a background thread while the current one is analysed.

PyAV decodes and converts colours with the GIL released, so on two cores the decoding of a
driving video (~7 ms a frame at 384x512 with rounded colours) overlaps the pose and face
models instead of adding to them. Only `depth` frames wait at a time: memory stays flat in the
video's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def read_ahead(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """Yield `items` in order, produced up to `depth` ahead on a daemon thread.

    An exception raised while producing is raised here, at the item it replaced. When the
    consumer stops early the producer stops too (and closes `items`' generator).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    waiting: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while (item := waiting.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
