"""Audio augmentation for motion training: the model must learn speech, not one synthesiser's
clean studio signal, so it hears it through noise, rooms, gain changes, narrow bands and
resampling, as real recordings arrive."""

from __future__ import annotations

import numpy as np
import soxr
from scipy.signal import butter, fftconvolve, sosfilt


def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """White or pink-ish (integrated) noise at `snr_db` below the signal's power."""
    noise = rng.standard_normal(len(x)).astype(np.float32)
    if rng.random() < 0.5:
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(64) / 64, mode="same")
    power = float(np.mean(x**2)) + 1e-10
    noise *= np.sqrt(power / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
    return x + noise


def reverberate(x: np.ndarray, rate: int, rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A synthetic room: exponentially decaying noise impulse response with a direct path."""
    length = int(rt60 * rate)
    t = np.arange(length) / rate
    ir = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0 / max(rng.uniform(0.2, 0.6), 1e-3)
    wet = fftconvolve(x, ir)[: len(x)]
    return (wet * np.sqrt(np.mean(x**2) / (np.mean(wet**2) + 1e-12))).astype(np.float32)


def band_limit(x: np.ndarray, rate: int, low: float, high: float) -> np.ndarray:
    """Telephone / cheap-microphone band-pass."""
    sos = butter(4, [low, min(high, rate / 2 * 0.95)], btype="band", fs=rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def resample_through(x: np.ndarray, rate: int, via: int) -> np.ndarray:
    """Down to `via` Hz and back: loses the high band as low-rate recordings do."""
    y = soxr.resample(soxr.resample(x, rate, via), via, rate)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].astype(np.float32)


def augment(x: np.ndarray, rate: int, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Each effect applied with probability `p`, in a recording-chain order; peak kept <= 1."""
    y = np.asarray(x, np.float32)
    if rng.random() < p:
        y = reverberate(y, rate, rng, rng.uniform(0.1, 0.6))
    if rng.random() < p:
        y = band_limit(y, rate, rng.uniform(80, 400), rng.uniform(3000, 7600))
    if rng.random() < p:
        y = resample_through(y, rate, int(rng.choice([8000, 11025, 12000])))
    if rng.random() < p:
        y = add_noise(y, rng, rng.uniform(5, 35))
    y = y * 10 ** (rng.uniform(-18, 6) / 20)
    peak = float(np.abs(y).max())
    return (y / peak if peak > 1 else y).astype(np.float32)
