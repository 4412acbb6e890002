"""Decode any audio (or the audio track of a video) to mono float32 at one analysis rate."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from avatarvid.errors import InputError

ANALYSIS_RATE = 16000


def load_audio(path: str | Path, sample_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Return the first audio stream of `path` as mono float32 in [-1, 1] at `sample_rate`.

    Channels are averaged (not FFmpeg's -3 dB pan law) so a stereo file and its mono mixdown
    give the same loudness to the features computed from it.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio {path} not found; check the path")
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.best("audio")
            if stream is None:
                raise InputError(f"{path} has no audio stream; pass a file that contains speech")
            resampler = av.AudioResampler(
                format="flt",
                layout="mono",
                rate=sample_rate,
                options={"rematrix_maxval": "1.0"},
            )
            for frame in container.decode(stream):
                chunks.extend(out.to_ndarray()[0] for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray()[0] for out in resampler.resample(None))
            declared = _declared_length(container, stream, sample_rate)
    except av.FFmpegError as exc:
        raise InputError(f"cannot decode audio {path} ({exc}); convert it to WAV or MP3") from exc
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if declared is not None:
        samples = samples[:declared]
    if samples.size == 0:
        raise InputError(f"audio {path} contains no samples; pass a non-empty recording")
    return np.clip(samples, -1.0, 1.0, out=samples)


def _declared_length(
    container: av.container.InputContainer, stream: av.AudioStream, sample_rate: int
) -> int | None:
    """Exact length an mp4/m4a edit list declares: FFmpeg still decodes the AAC end padding."""
    if "mp4" not in container.format.name or stream.duration is None:
        return None
    return round(stream.duration * stream.time_base * sample_rate)
