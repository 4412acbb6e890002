"""Log-mel features aligned to video frames: what the motion model hears.

A 10 ms hop log-mel spectrogram is computed with torch (no torchaudio here), then each video
frame takes the four mel frames around its time (-15, -5, +5, +15 ms), so one feature row
carries 40 ms of spectral detail centred on the frame. Levels are taken relative to the clip's
loud frames, so the same speech at another gain gives the same features.
"""

from __future__ import annotations

import numpy as np
import torch

from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.media.features import num_video_frames

N_FFT = 400
HOP = 160
N_MELS = 40
OFFSETS_S = (-0.015, -0.005, 0.005, 0.015)
FEATURE_DIM = N_MELS * len(OFFSETS_S) + 1
FLOOR = -12.0  # natural-log units below the clip's loud level: silence


def mel_filterbank(n_fft: int, n_mels: int, rate: int, fmin: float, fmax: float) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular HTK-mel filters."""

    def to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def to_hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return torch.from_numpy(np.clip(np.minimum(up, down), 0, None).T.astype(np.float32))


_FILTERS = mel_filterbank(N_FFT, N_MELS, ANALYSIS_RATE, 50.0, 7600.0)


def log_mel(audio: np.ndarray) -> torch.Tensor:
    """(mel frames, N_MELS) natural-log mel energies at a 10 ms hop (16 kHz mono input)."""
    x = torch.as_tensor(np.asarray(audio, np.float32))
    if len(x) < N_FFT:
        x = torch.nn.functional.pad(x, (0, N_FFT - len(x)))
    spec = torch.stft(
        x, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, return_complex=True
    )
    return torch.log(spec.abs().pow(2).T @ _FILTERS + 1e-8)


def frame_features(audio: np.ndarray, fps: float, num_frames: int | None = None) -> np.ndarray:
    """(num_frames, FEATURE_DIM) float32 features, row i centred on t = i / fps."""
    n = num_frames or num_video_frames(len(audio), ANALYSIS_RATE, fps)
    mel = log_mel(audio).numpy()
    energy = np.log(np.exp(mel).sum(1) + 1e-8)
    ref = float(np.percentile(energy, 95))
    mel = np.maximum(mel - ref, FLOOR + np.log(1.0 / N_MELS))
    rel_energy = np.maximum(energy - ref, FLOOR)
    t = np.arange(n) / fps
    cols = []
    for off in OFFSETS_S:
        idx = np.clip(np.round((t + off) * ANALYSIS_RATE / HOP).astype(int), 0, len(mel) - 1)
        beyond = (t + off) * ANALYSIS_RATE / HOP > len(mel) - 0.5
        col = mel[idx].copy()
        col[beyond] = mel.min()  # after the audio ends: silence
        cols.append(col)
    centre = np.clip(np.round(t * ANALYSIS_RATE / HOP).astype(int), 0, len(mel) - 1)
    out = np.concatenate(cols + [rel_energy[centre, None]], axis=1)
    return ((out + 6.0) / 4.0).astype(np.float32)  # roughly zero-mean, unit-scale


def silence_features(num_frames: int) -> np.ndarray:
    """What `frame_features` gives for silence: padding before the audio starts."""
    row = np.full(FEATURE_DIM, FLOOR + np.log(1.0 / N_MELS), np.float32)
    row[-1] = FLOOR
    return np.tile((row + 6.0) / 4.0, (num_frames, 1))
