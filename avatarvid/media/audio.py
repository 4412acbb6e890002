"""Decode any audio (or the audio track of a video) to mono float32 at one analysis rate."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import av
import numpy as np

from avatarvid.errors import InputError, existing_file
from avatarvid.media.streams import open_best_stream

ANALYSIS_RATE = 16000
_NO_SPEECH = "pass a file that contains speech"


def load_audio(path: str | Path, sample_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Return the first audio stream of `path` as mono float32 in [-1, 1] at `sample_rate`.

    Channels are averaged (not FFmpeg's -3 dB pan law) so a stereo file and its mono mixdown
    give the same loudness to the features computed from it.
    """
    samples = np.concatenate([np.zeros(0, np.float32), *iter_audio(path, sample_rate)])
    if samples.size == 0:
        raise InputError(f"audio {path} contains no samples; pass a non-empty recording")
    return samples


def iter_audio(path: str | Path, sample_rate: int = ANALYSIS_RATE) -> Iterator[np.ndarray]:
    """`load_audio` in decoded chunks, so a long recording can be muxed without holding it."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    path = existing_file(path, "audio")
    try:
        with open_best_stream(path, "audio", _NO_SPEECH) as (container, stream):
            remaining = _declared_length(container, stream, sample_rate)
            resampler = av.AudioResampler(
                format="flt",
                layout="mono",
                rate=sample_rate,
                options={"rematrix_maxval": "1.0"},
            )
            for frame in chain(container.decode(stream), [None]):  # None flushes
                for out in resampler.resample(frame):
                    chunk = np.clip(out.to_ndarray()[0], -1.0, 1.0)
                    if remaining is not None:
                        chunk, remaining = chunk[:remaining], remaining - len(chunk[:remaining])
                    if len(chunk):
                        yield chunk
    except av.FFmpegError as exc:
        raise InputError(f"cannot decode audio {path} ({exc}); convert it to WAV or MP3") from exc


def _declared_length(
    container: av.container.InputContainer, stream: av.AudioStream, sample_rate: int
) -> int | None:
    """Exact length an mp4/m4a edit list declares: FFmpeg still decodes the AAC end padding."""
    if "mp4" not in container.format.name or stream.duration is None:
        return None
    return round(stream.duration * stream.time_base * sample_rate)
