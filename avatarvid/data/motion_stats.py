"""Statistics of real motion, the targets the motion model's head, eyes and blinks are held to.

Measured on rig residuals (`FaceRig.fit` per frame), so they compare one-to-one with what the
model samples: per-channel std, where each channel's power lies in frequency, head
yaw/pitch/roll std in degrees and angular speed; blinks (per minute, intervals) are counted on
the landmarks' eye openness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import percentile_filter

from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.perception import landmark_ids as ids

BANDS_HZ = ((0.0, 0.5), (0.5, 2.0), (2.0, 6.0))
BLINK_CLOSED = 0.6  # eyes count as closed under this fraction of their usual openness


def band_power(x: np.ndarray, fps: float) -> tuple[list[float], float]:
    """Fraction of a centred signal's power per band of `BANDS_HZ`, and its centroid (Hz)."""
    x = x - x.mean()
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / fps)
    total = float(power[1:].sum()) or 1.0
    fractions = [float(power[(freqs > lo) & (freqs <= hi)].sum() / total) for lo, hi in BANDS_HZ]
    return fractions, float((freqs[1:] * power[1:]).sum() / total)


def eye_openness(landmarks: np.ndarray) -> np.ndarray:
    """(T,) both eyes' lid gaps over the inter-ocular distance, from (T, 478, 3) landmarks."""
    lm = landmarks[..., :2]
    iod = np.linalg.norm(lm[:, ids.RIGHT_EYE_OUTER] - lm[:, ids.LEFT_EYE_OUTER], axis=1)
    gaps = np.linalg.norm(
        lm[:, ids.RIGHT_EYE_TOP] - lm[:, ids.RIGHT_EYE_BOTTOM], axis=1
    ) + np.linalg.norm(lm[:, ids.LEFT_EYE_TOP] - lm[:, ids.LEFT_EYE_BOTTOM], axis=1)
    return gaps / np.maximum(iod, 1e-6)


def blink_onsets(landmarks: np.ndarray, fps: float) -> np.ndarray:
    """Frames where the eyes close to under `BLINK_CLOSED` of their usual openness (the 80th
    percentile over the surrounding 3 s, longer than franck's 2 s closures). Measured on
    landmarks, not on the rig's blink weight: on real video that weight also moves with pitch
    and gaze and reaches only ~0.5 in a full blink."""
    openness = eye_openness(landmarks)
    usual = percentile_filter(openness, 80, size=max(3, int(3 * fps) | 1), mode="nearest")
    closed = openness < BLINK_CLOSED * usual
    return np.flatnonzero(closed[1:] & ~closed[:-1]) + 1


def motion_stats(clips: list[np.ndarray], landmarks: list[np.ndarray], fps: float) -> dict:
    """Statistics over clips of (T, D) residuals and their (T, 478, 3) landmarks at one frame
    rate (clips are not joined)."""
    if not clips:
        return {"clips": 0}
    names = MOTION_LAYOUT.names
    stacked = np.concatenate(clips)
    rot = MOTION_LAYOUT.indices(("head_pitch", "head_yaw", "head_roll"))
    # each clip is centred on its own mean: the reference frame differs between clips
    centred = np.concatenate([c[:, rot] - c[:, rot].mean(axis=0) for c in clips])
    speed = np.concatenate(
        [np.linalg.norm(np.diff(c[:, rot], axis=0), axis=1) * fps for c in clips if len(c) > 1]
    )
    spectra = {}
    for j, name in enumerate(names):
        parts = [band_power(c[:, j], fps) for c in clips]
        weights = np.array([len(c) for c in clips], np.float64)
        bands = np.average([p[0] for p in parts], axis=0, weights=weights)
        labels = [f"{lo}-{hi}Hz" for lo, hi in BANDS_HZ]
        spectra[name] = {
            "band_fraction": dict(zip(labels, map(float, bands), strict=True)),
            "centroid_hz": float(np.average([p[1] for p in parts], weights=weights)),
        }
    onsets = [blink_onsets(lm, fps) for lm in landmarks]
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
        "blink_interval_s": {
            "mean": float(intervals.mean()) if len(intervals) else None,
            "std": float(intervals.std()) if len(intervals) else None,
        },
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
        tracks = [np.load(out / c["tracks"]) for c in mine]
        fps = {c["fps"] for c in mine}
        if len(fps) > 1:
            raise ValueError(f"{person}'s clips have several frame rates {sorted(fps)}")
        stats[person] = {
            "split": split,
            **motion_stats(
                [t["motion"] for t in tracks], [t["landmarks"] for t in tracks], fps.pop()
            ),
        }
    return stats
