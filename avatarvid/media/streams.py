"""Open a media file with PyAV at its best stream of one kind, or say in one line why not."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import av

from avatarvid.errors import InputError


@contextlib.contextmanager
def open_best_stream(
    path: Path, kind: str, hint: str
) -> Iterator[tuple[av.container.InputContainer, av.stream.Stream]]:
    """(container, its best `kind` stream); `hint` tells the user what to pass instead.

    FFmpeg errors pass through: each caller names the conversion that fixes its format.
    """
    with av.open(str(path)) as container:
        stream = container.streams.best(kind)
        if stream is None:
            raise InputError(f"{path} has no {kind} stream; {hint}")
        yield container, stream
