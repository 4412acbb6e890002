"""Per-frame face measurements and the pure signal statistics the eval report is built from.

Per-frame values are NaN on frames without a face; every statistic here skips NaNs, so a
few lost frames shorten the evidence instead of corrupting it.
"""

from __future__ import annotations

import numpy as np

from avatarvid.media.features import loudness_db
from avatarvid.perception.head_pose import eye_centres
from avatarvid.perception.landmark_ids import (
    LEFT_BROW,
    LEFT_EYE_EAR,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LEFT_IRIS,
    LOWER_LIP_TOP,
    RIGHT_BROW,
    RIGHT_EYE_EAR,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    RIGHT_IRIS,
    UPPER_LIP_BOTTOM,
)

# Loudness below (peak - this) is all "silence": room noise vs digital zero must not matter.
ENVELOPE_RANGE_DB = 40.0
MIN_OVERLAP = 8  # samples a correlation needs to mean anything


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the eye centres: a face scale that expressions and blinks leave alone."""
    right, left = eye_centres(landmarks)
    return float(np.linalg.norm(left - right))


def mouth_aperture(landmarks: np.ndarray) -> float:
    """Inner-lip gap (13-14) over the inter-ocular distance: 0 closed, ~0.3-0.5 wide open."""
    gap = np.linalg.norm(landmarks[UPPER_LIP_BOTTOM] - landmarks[LOWER_LIP_TOP])
    return float(gap) / inter_ocular(landmarks)


def eye_aspect_ratio(landmarks: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (lid gap over eye width; ~0.3 open, ~0.1 closed)."""

    def one_eye(ids: tuple[int, ...]) -> float:
        p1, p2, p3, p4, p5, p6 = (landmarks[i].astype(np.float64) for i in ids)
        vertical = np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)
        return float(vertical / (2 * np.linalg.norm(p1 - p4)))

    return (one_eye(RIGHT_EYE_EAR) + one_eye(LEFT_EYE_EAR)) / 2


def brow_height(landmarks: np.ndarray) -> float:
    """Mean brow-to-eye distance over the inter-ocular distance (brow centroid to the eye's
    corner midpoint, both sides): rises when the brows lift, falls when they frown."""
    lm = np.asarray(landmarks, dtype=np.float64)
    right, left = eye_centres(lm)
    up = np.linalg.norm(lm[list(RIGHT_BROW)].mean(axis=0) - right) + np.linalg.norm(
        lm[list(LEFT_BROW)].mean(axis=0) - left
    )
    return float(up / 2) / inter_ocular(lm)


def gaze(landmarks: np.ndarray) -> tuple[float, float]:
    """(x, y) of the iris centres in their eyes, in eye widths, averaged over both eyes.

    x along the corner-to-corner line (0 = midway, + = towards the image's right), y across
    it (+ = down). Relative to the eye corners, so head motion leaves it alone. Which iris
    block is which eye is decided by position (nearest eye), not trusted by index."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes = [(lm[RIGHT_EYE_OUTER], lm[RIGHT_EYE_INNER]), (lm[LEFT_EYE_OUTER], lm[LEFT_EYE_INNER])]
    irises = [lm[RIGHT_IRIS[0]], lm[LEFT_IRIS[0]]]
    mids = [(a + b) / 2 for a, b in eyes]
    if np.linalg.norm(irises[0] - mids[0]) > np.linalg.norm(irises[0] - mids[1]):
        irises = irises[::-1]
    xs, ys = [], []
    for (a, b), mid, iris in zip(eyes, mids, irises, strict=True):
        axis = (b - a)[:2] if b[0] > a[0] else (a - b)[:2]
        width = float(np.linalg.norm(axis))
        axis = axis / width
        offset = (iris - mid)[:2]
        xs.append(float(offset @ axis) / width)
        ys.append(float(offset @ np.array([-axis[1], axis[0]])) / width)
    return float(np.mean(xs)), float(np.mean(ys))


def speech_envelope(audio: np.ndarray, rate: int, fps: float, num_frames: int) -> np.ndarray:
    """Loudness in dB per video frame, floored ENVELOPE_RANGE_DB below the clip's peak."""
    db = loudness_db(audio, rate, fps, num_frames).astype(np.float64)
    return np.maximum(db, db.max() - ENVELOPE_RANGE_DB)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation over the pairs where both are finite; NaN if too few or one is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < MIN_OVERLAP:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 1e-12 else float("nan")


def best_lag_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 5) -> tuple[float, int]:
    """(corr, lag) maximising corr(a[t], b[t - lag]) over |lag| <= max_lag.

    With a = mouth opening and b = speech loudness, a positive lag means the video is late.
    Ties go to the smaller |lag|. Returns (nan, 0) when no lag gives a defined correlation.
    """
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], np.float64), np.asarray(b[:n], np.float64)
    best_corr, best_lag = float("nan"), 0
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        if abs(lag) >= n:
            continue
        corr = pearson(a[lag:], b[: n - lag]) if lag >= 0 else pearson(a[:lag], b[-lag:])
        if np.isfinite(corr) and (np.isnan(best_corr) or corr > best_corr):
            best_corr, best_lag = corr, lag
    return best_corr, best_lag


def count_blinks(
    ear: np.ndarray,
    fps: float,
    close_ratio: float = 0.7,
    reopen_ratio: float = 0.85,
    refractory_s: float = 0.25,
) -> int:
    """Blinks in an eye-aspect-ratio series (NaN = no face).

    The open-eye level is the clip's median EAR (eyes are open most of the time), so the
    threshold adapts to the face's eye shape. A blink starts when EAR drops below
    close_ratio x median and ends when it climbs back above reopen_ratio x median; a start
    within refractory_s of the previous counted one is the same blink flickering.
    """
    ear = np.asarray(ear, dtype=np.float64)
    valid = ear[np.isfinite(ear)]
    if valid.size == 0:
        return 0
    open_level = float(np.median(valid))
    refractory = refractory_s * fps
    count, closed, last_start = 0, False, -np.inf
    for i, value in enumerate(ear):
        if not np.isfinite(value):
            continue
        if not closed and value < close_ratio * open_level:
            closed = True
            if i - last_start >= refractory:
                count += 1
                last_start = i
        elif closed and value > reopen_ratio * open_level:
            closed = False
    return count


def landmark_jitter(points: np.ndarray, scale: np.ndarray) -> float:
    """Mean acceleration magnitude of tracked points, in face-scale units per frame^2.

    points: (T, K, 2) positions (NaN on frames without a face); scale: (T,) face size, e.g.
    inter-ocular distance. Constant-velocity motion gives 0; shaky landmarks give a lot.
    NaN when fewer than three consecutive frames have a face.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 3:
        return float("nan")
    accel = points[2:] - 2 * points[1:-1] + points[:-2]
    per_frame = np.linalg.norm(accel, axis=-1).mean(axis=-1) / np.asarray(scale)[1:-1]
    per_frame = per_frame[np.isfinite(per_frame)]
    return float(per_frame.mean()) if per_frame.size else float("nan")
