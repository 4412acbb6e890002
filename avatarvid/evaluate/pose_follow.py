"""Pose following: PCK between skeletons after normalising each by its own torso, motion
correlation, foot sliding, and how much the background changes.

Each skeleton is centred on its torso centre and divided by its torso length (mid-shoulder to
mid-hip), so a reference of another size or position can follow a driver perfectly; a joint
counts as correct when it lies within `threshold` torso lengths of the other's.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avatarvid.evaluate.metrics import pearson
from avatarvid.media.video import VideoReader
from avatarvid.motion.feet import PLANTED_SPEED, ankle_speeds
from avatarvid.perception.person_track import PersonTracker, empty_pose
from avatarvid.perception.pose import (
    SCORED,
    VISIBLE,
    PoseTracker,
    segment_person,
    torso_centre_and_size,
)


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


def _unseen_as_nan(pose: np.ndarray | None) -> np.ndarray:
    if pose is None:
        return empty_pose()
    pose = pose.copy()
    pose[pose[:, 2] < VISIBLE, :2] = np.nan
    return pose


def video_poses(path: str | Path) -> np.ndarray:
    """(T, 33, 3) mediapipe poses of every frame of a video (NaN where nobody is found;
    joints below the visibility threshold are NaN too), each frame read on its own.

    Not in mediapipe's tracking mode, which carries each frame's region of interest into the
    next: on the synthetic driver's 256 px output it read PCK@0.1 0.733 from the file decoded
    by PyAV and 0.799 from the same file decoded by decord (frame by frame: 0.896), so a
    render was scored by where the tracker happened to drift."""
    with PoseTracker(static_image_mode=True) as tracker:
        return np.stack([_unseen_as_nan(tracker.detect(f)) for f in VideoReader(path).stream()])


def driver_poses(path: str | Path, person: tuple[float, float] | None = None) -> np.ndarray:
    """video_poses of the one person `animate` follows (perception/person_track.py), read
    in a crop around them: the driver's joints for a small person in a wide shot."""
    with PersonTracker(person) as tracker:
        return np.stack([_unseen_as_nan(tracker(f)) for f in VideoReader(path).stream()])


def motion_correlation(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Pearson correlation of the torso-normalised SCORED joints' motion (each joint's
    coordinates minus their mean over the frames both tracks see it), pooled over joints."""
    p = np.stack([normalised(f)[list(SCORED)] for f in predicted])
    t = np.stack([normalised(f)[list(SCORED)] for f in truth])
    both = np.isfinite(p) & np.isfinite(t)
    p, t = np.where(both, p, np.nan), np.where(both, t, np.nan)
    with np.errstate(invalid="ignore"):
        p, t = p - np.nanmean(p, axis=0), t - np.nanmean(t, axis=0)
    return pearson(p.ravel(), t.ravel())


def foot_sliding(predicted: np.ndarray, truth: np.ndarray, fps: float) -> float:
    """Mean speed (torso lengths a second) of the output's ankles while the driver's are
    planted (moving under PLANTED_SPEED, as animate's foot lock judges it); 0 is a foot that
    stays where the driver's stays."""
    out, drv = ankle_speeds(predicted, fps), ankle_speeds(truth, fps)
    planted = (drv < PLANTED_SPEED) & np.isfinite(out)
    return float(out[planted].mean()) if planted.any() else float("nan")


def background_change(frames: list[np.ndarray], reference: np.ndarray) -> float:
    """Mean absolute grey-level change from `reference` outside the person (its mask on the
    reference and on each frame, dilated by 1/32 of the frame), over `frames` (RGB)."""
    grow = max(3, reference.shape[0] // 32) | 1
    kernel = np.ones((grow, grow), np.uint8)
    ref_mask = segment_person(reference) > 0.5
    ref_grey = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY).astype(np.float32)
    changes = []
    for frame in frames:
        person = (ref_mask | (segment_person(frame) > 0.5)).astype(np.uint8)
        outside = cv2.dilate(person, kernel) == 0
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        changes.append(np.abs(grey - ref_grey)[outside].mean())
    return float(np.mean(changes))
