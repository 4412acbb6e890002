"""Pose following: PCK between skeletons after normalising each by its own torso.

Each skeleton is centred on its torso centre and divided by its torso length (mid-shoulder to
mid-hip), so a reference of another size or position can follow a driver perfectly; a joint
counts as correct when it lies within `threshold` torso lengths of the other's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarvid.media.video import VideoReader
from avatarvid.perception.pose import SCORED, VISIBLE, PoseTracker, torso_centre_and_size


def normalised(points: np.ndarray) -> np.ndarray:
    """(33, >=2) pose -> (33, 2) in torso units around the torso centre."""
    centre, size = torso_centre_and_size(points)
    return (points[:, :2] - centre) / max(size, 1e-6)


def pck(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.1) -> float:
    """Fraction of SCORED joints (finite in both) within `threshold` torso lengths, over
    (T, 33, >=2) tracks; joints missing (NaN) from `predicted` count as wrong."""
    hits, total = 0, 0
    for p, t in zip(predicted, truth, strict=True):
        tn = normalised(t)[list(SCORED)]
        valid = np.isfinite(tn).all(axis=1)
        total += int(valid.sum())
        err = np.linalg.norm(normalised(p)[list(SCORED)] - tn, axis=1)
        hits += int((err[valid] <= threshold).sum())  # NaN (not found) is never a hit
    return hits / max(total, 1)


def video_poses(path: str | Path) -> np.ndarray:
    """(T, 33, 3) mediapipe poses of every frame of a video (NaN where nobody is found;
    joints below the visibility threshold are NaN too)."""
    out = []
    with PoseTracker(static_image_mode=False) as tracker:
        for frame in VideoReader(path).stream():
            pose = tracker.detect(frame)
            if pose is None:
                pose = np.full((33, 3), np.nan, np.float32)
            else:
                pose = pose.copy()
                pose[pose[:, 2] < VISIBLE, :2] = np.nan
            out.append(pose)
    return np.stack(out)
