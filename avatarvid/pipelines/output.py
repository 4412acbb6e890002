"""The tail every render pipeline shares: refined frames -> super-resolution -> encoder."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from avatarvid.media.video import VideoWriter
from avatarvid.stages.sr import SRStage
from avatarvid.timing import StageTimer


def upscaled(
    rendered: Iterable[np.ndarray], sr: SRStage, timer: StageTimer, last: bool = False
) -> list[np.ndarray]:
    """The frames the refiner finished, through SR; `last` flushes the SR window."""
    with timer.stage("sr"):
        return [f for r in rendered for f in sr.push(r)] + (sr.flush() if last else [])


def emit(
    rendered: Iterable[np.ndarray],
    sr: SRStage,
    writer: VideoWriter,
    timer: StageTimer,
    last: bool = False,
) -> None:
    """Upscales the frames the refiner finished and encodes them; `last` flushes the SR window."""
    frames = upscaled(rendered, sr, timer, last)
    with timer.stage("encode"):
        for frame in frames:
            writer.write(frame)
