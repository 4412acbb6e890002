"""Statistics of real motion, the targets the motion model's head, eyes and blinks are held to.

Measured on rig residuals (`FaceRig.fit` per frame), so they compare one-to-one with what the
model samples: per-channel std, where each channel's power lies in frequency, blinks per
minute with their intervals, head yaw/pitch/roll std in degrees and angular speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarvid.motion.schema import MOTION_LAYOUT

BANDS_HZ = ((0.0, 0.5), (0.5, 2.0), (2.0, 6.0))
BLINK_CLOSED = 0.5  # mean of blink_l / blink_r above this counts as closed


def _band_power(x: np.ndarray, fps: float) -> tuple[list[float], float]:
    """Fraction of a centred signal's power per band of `BANDS_HZ`, and its centroid (Hz)."""
    x = x - x.mean()
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / fps)
    total = float(power[1:].sum()) or 1.0
    fractions = [float(power[(freqs > lo) & (freqs <= hi)].sum() / total) for lo, hi in BANDS_HZ]
    return fractions, float((freqs[1:] * power[1:]).sum() / total)


def blink_onsets(motion: np.ndarray) -> np.ndarray:
    """Frame indices where both eyes' mean blink weight rises through `BLINK_CLOSED`."""
    eyes = motion[:, MOTION_LAYOUT.indices(("blink_l", "blink_r"))].mean(axis=1)
    closed = eyes > BLINK_CLOSED
    return np.flatnonzero(closed[1:] & ~closed[:-1]) + 1


def motion_stats(clips: list[np.ndarray], fps: float) -> dict:
    """Statistics over clips of (T, D) residuals at one frame rate (clips are not joined)."""
    if not clips:
        return {"clips": 0}
    names = MOTION_LAYOUT.names
    stacked = np.concatenate(clips)
    rot = MOTION_LAYOUT.indices(("head_pitch", "head_yaw", "head_roll"))
    # each clip is centred on its own mean: the reference frame differs between clips
    centred = np.concatenate([c[:, rot] - c[:, rot].mean(axis=0) for c in clips])
    speed = np.concatenate([np.linalg.norm(np.diff(c[:, rot], axis=0), axis=1) * fps
                            for c in clips if len(c) > 1])
    spectra = {}
    for j, name in enumerate(names):
        parts = [_band_power(c[:, j], fps) for c in clips]
        weights = np.array([len(c) for c in clips], np.float64)
        bands = np.average([p[0] for p in parts], axis=0, weights=weights)
        labels = [f"{lo}-{hi}Hz" for lo, hi in BANDS_HZ]
        spectra[name] = {
            "band_fraction": dict(zip(labels, map(float, bands), strict=True)),
            "centroid_hz": float(np.average([p[1] for p in parts], weights=weights)),
        }
    onsets = [blink_onsets(c) for c in clips]
    intervals = np.concatenate([np.diff(o) / fps for o in onsets]) if onsets else np.zeros(0)
    minutes = len(stacked) / fps / 60.0
    pitch, yaw, roll = np.degrees(centred.std(axis=0))
    return {
        "clips": len(clips),
        "seconds": len(stacked) / fps,
        "fps": fps,
        "channel_std": dict(zip(names, map(float, stacked.std(axis=0)), strict=True)),
        "spectra": spectra,
        "blinks_per_minute": float(sum(len(o) for o in onsets) / minutes),
        "blink_interval_s": {"mean": float(intervals.mean()) if len(intervals) else None,
                             "std": float(intervals.std()) if len(intervals) else None},
        "head_deg_std": {"yaw": float(yaw), "pitch": float(pitch), "roll": float(roll)},
        "angular_speed_deg_s": float(np.degrees(speed.mean())) if len(speed) else 0.0,
    }


def stats_by_person(out: Path, manifest: dict) -> dict:
    """`motion_stats` of each person's clips in a manifest written under `out`."""
    stats = {}
    for person, split in manifest["persons"].items():
        mine = [c for c in manifest["clips"] if c["person"] == person]
        if not mine:
            continue
        motions = [np.load(out / c["tracks"])["motion"] for c in mine]
        fps = {c["fps"] for c in mine}
        if len(fps) > 1:
            raise ValueError(f"{person}'s clips have several frame rates {sorted(fps)}")
        stats[person] = {"split": split, **motion_stats(motions, fps.pop())}
    return stats
