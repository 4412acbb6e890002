"""Per-video-frame audio features: what the motion stages and the lip-sync metric listen to.

Every function returns one value per video frame, computed on a window centred on the
frame's time, so audio and video stay aligned by construction (frame i <-> t = i / fps).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

SILENCE_DB = -80.0


def num_video_frames(num_samples: int, rate: int, fps: float) -> int:
    """Frames that cover the audio: the video's duration equals the audio's within one frame."""
    return max(1, int(round(num_samples / rate * fps)))


def frame_windows(
    audio: np.ndarray, rate: int, fps: float, num_frames: int, width_s: float, block: int = 512
) -> Iterator[np.ndarray]:
    """(frames, window) blocks of audio windows centred on each frame time, `block` frames at a
    time so memory does not grow with the audio's length. Audio before its start and after its
    end (a video may outlast its audio) counts as silence."""
    win = max(2, int(round(width_s * rate)))
    offsets = np.arange(win) - win // 2
    silent = len(audio)  # index of the one zero sample appended below
    padded = np.append(audio.astype(np.float32), np.float32(0.0))
    for first in range(0, num_frames, block):
        centres = np.round(np.arange(first, min(first + block, num_frames)) / fps * rate)
        index = centres.astype(np.int64)[:, None] + offsets[None, :]
        yield padded[np.where((index >= 0) & (index < silent), index, silent)]


def loudness_db(audio: np.ndarray, rate: int, fps: float, num_frames: int) -> np.ndarray:
    """RMS level in dBFS of a 40 ms window per frame (floor at SILENCE_DB)."""
    rms = np.concatenate(
        [
            np.sqrt(np.mean(w.astype(np.float64) ** 2, axis=1))
            for w in frame_windows(audio, rate, fps, num_frames, 0.04)
        ]
    )
    return np.maximum(20.0 * np.log10(rms + 1e-12), SILENCE_DB).astype(np.float32)


def band_energies_db(
    audio: np.ndarray, rate: int, fps: float, num_frames: int, bands: list[tuple[float, float]]
) -> np.ndarray:
    """(num_frames, len(bands)) energy in dB of each frequency band, from a Hann-windowed FFT."""
    out = []
    for windows in frame_windows(audio, rate, fps, num_frames, 0.04):
        spec = np.abs(np.fft.rfft(windows * np.hanning(windows.shape[1]), axis=1)) ** 2
        freqs = np.fft.rfftfreq(windows.shape[1], 1.0 / rate)
        out.append(
            np.stack(
                [spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in bands], axis=1
            )
        )
    return (10.0 * np.log10(np.concatenate(out) + 1e-10)).astype(np.float32)
