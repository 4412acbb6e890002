"""Body retargeting: the driver's motion applied to the reference's skeleton, not its bones.

Skeletons are mediapipe's 33 pose landmarks plus two virtual joints (mid-hip = root, and
mid-shoulder), linked into a tree. Each bone of the output keeps the *reference's* length
times the driver's foreshortening (so an arm pointing at the camera looks shorter) and takes
its direction from the driver:

- relative (default, as in FOMM / LivePortrait): the driver's rotation of each bone since the
  alignment frame is added to the reference's bone direction, and the root moves by the
  driver's root displacement scaled by the ratio of torso sizes;
- absolute: each bone points where the driver's does, the root sits where the driver's does
  after aligning scale and position on the alignment frame; foreshortening is the bone's
  length in the driver's torso lengths over the reference's, so a walker seen side-on narrows
  the photo's shoulders even when the alignment frame was side-on too (vtest.avi validation
  walkers: PCK@0.1 0.25 -> 0.53 and 0.50 -> 0.56; the synthetic driver, whose proportions
  mediapipe reads differently from the photo's: 0.90 -> 0.82). Relative mode measures it
  against the alignment frame (with proportions its synthetic PCK@0.1 fell 0.90 -> 0.74).

So a driver twice as tall as the reference moves the reference's limbs without stretching them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarvid.geometry import rotate_2d
from avatarvid.perception.pose import (
    L_HIP,
    L_SHOULDER,
    MIRROR,
    NUM_POSE,
    R_HIP,
    R_SHOULDER,
)

ROOT, NECK = NUM_POSE, NUM_POSE + 1  # virtual joints: mid-hip, mid-shoulder
NUM_JOINTS = NUM_POSE + 2
RETARGET_MODES = ("relative", "absolute")
# (parent, child) in an order where every parent comes before its children.
BONES: tuple[tuple[int, int], ...] = (
    (ROOT, NECK), (ROOT, L_HIP), (ROOT, R_HIP), (NECK, L_SHOULDER), (NECK, R_SHOULDER),
    (NECK, 0), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (12, 14), (14, 16), (16, 18),
    (16, 20), (16, 22), (23, 25), (25, 27), (27, 29), (27, 31), (24, 26), (26, 28), (28, 30),
    (28, 32), (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (0, 9), (0, 10),
)  # fmt: skip
# Foreshortening: how much shorter / longer than on the alignment frame (absolute: than in
# the reference's proportions) a bone may appear.
_MIN_RATIO, _MAX_RATIO = 0.3, 1.15


def with_virtual_joints(points: np.ndarray) -> np.ndarray:
    """(..., 33, 2) -> (..., 35, 2): mid-hip and mid-shoulder appended."""
    root = (points[..., L_HIP, :] + points[..., R_HIP, :]) / 2
    neck = (points[..., L_SHOULDER, :] + points[..., R_SHOULDER, :]) / 2
    return np.concatenate([points, root[..., None, :], neck[..., None, :]], axis=-2)


def facing(joints: np.ndarray) -> np.ndarray:
    """(..., >=25, 2) skeletons -> (...,) how far the subject's left shoulder and hip lie to the
    image right of their right ones, in torso lengths: > 0 facing the camera, < 0 away."""
    side = joints[..., [L_SHOULDER, L_HIP], 0] - joints[..., [R_SHOULDER, R_HIP], 0]
    torso = np.linalg.norm(
        joints[..., [L_SHOULDER, R_SHOULDER], :].mean(-2) - joints[..., [L_HIP, R_HIP], :].mean(-2),
        axis=-1,
    )
    return side.mean(-1) / np.maximum(torso, 1e-6)


def face_like(driver: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T, >=33, 2) driver skeletons with left and right relabelled when, over the clip, the
    driver faces the other way than the reference (median `facing`).

    A 2D warp cannot turn a photo round, so a driver seen from behind (or read so by the pose
    model: walkers side-on in vtest.avi) drives the photo's near-side limbs with its
    near-side limbs; followed label by label, the photo's arms crossed over its body.
    """
    seen = facing(driver[..., :NUM_POSE, :])
    if np.isfinite(seen).any() and np.nanmedian(seen) * facing(reference[:NUM_POSE]) < 0:
        return driver[:, MIRROR + list(range(NUM_POSE, driver.shape[1]))]
    return driver


def torso_length(joints: np.ndarray) -> float:
    """Mid-hip to mid-shoulder distance of a (35, 2) skeleton."""
    return float(np.linalg.norm(joints[NECK] - joints[ROOT]))


def _angle(v: np.ndarray) -> np.ndarray:
    return np.arctan2(v[..., 1], v[..., 0])


@dataclass(frozen=True)
class Retargeter:
    """Maps driver skeletons (35, 2) onto the reference skeleton `reference` (35, 2)."""

    reference: np.ndarray
    driver_anchor: np.ndarray  # the driver's skeleton on the alignment frame
    mode: str = "relative"

    def __post_init__(self) -> None:
        if self.mode not in RETARGET_MODES:
            raise ValueError(f"mode must be one of {RETARGET_MODES}, got {self.mode!r}")

    @property
    def scale(self) -> float:
        """Reference size over driver size (torso lengths on the alignment frame)."""
        return torso_length(self.reference) / max(torso_length(self.driver_anchor), 1e-6)

    def __call__(self, driver: np.ndarray) -> np.ndarray:
        """(35, 2) driver skeleton (NaN = never seen) -> (35, 2) reference-shaped skeleton."""
        ref, anchor = self.reference, self.driver_anchor
        out = np.empty_like(ref)
        # Absolute foreshortening compares proportions: driver bone / driver torso now against
        # reference bone / reference torso (a frame without the torso: the alignment frame's).
        proportion = torso_length(ref) / max(torso_length(driver), 1e-6)
        if not np.isfinite(proportion):
            proportion = self.scale
        root_shift = driver[ROOT] - anchor[ROOT]
        out[ROOT] = ref[ROOT] + (self.scale * root_shift if np.isfinite(root_shift).all() else 0)
        for parent, child in BONES:
            ref_bone = ref[child] - ref[parent]
            now, then = driver[child] - driver[parent], anchor[child] - anchor[parent]
            if not (np.isfinite(now).all() and np.isfinite(then).all()):
                out[child] = out[parent] + ref_bone  # not seen: keep the reference's pose
                continue
            if self.mode == "absolute":
                ratio = proportion * np.linalg.norm(now) / max(np.linalg.norm(ref_bone), 1e-6)
            else:
                ratio = np.linalg.norm(now) / max(np.linalg.norm(then), 1e-6)
            ratio = float(np.clip(ratio, _MIN_RATIO, _MAX_RATIO))
            if self.mode == "relative":
                bone = rotate_2d(ref_bone, _angle(now) - _angle(then))
            else:
                bone = now / max(np.linalg.norm(now), 1e-6) * np.linalg.norm(ref_bone)
            out[child] = out[parent] + ratio * bone
        return out


# Driver frames at or above this confidence are followed at once; below it the output moves
# only that fraction of the way (at least EASE_FLOOR: frames filled between detections, at
# confidence 0, still glide along the filled path), so a doubtful frame eases the pose
# instead of jerking it.
FULL_TRUST, EASE_FLOOR = 0.8, 0.35


# Travel slower than a moving average over this many seconds is the person's path, not their
# body's motion (a walker's stride and bob are ~1 s cycles).
TRAVEL_WINDOW_S = 1.0


def _slow(values: np.ndarray, fps: float) -> np.ndarray:
    """(T, C) columns averaged over TRAVEL_WINDOW_S (edges held)."""
    width = max(1, round(TRAVEL_WINDOW_S * fps)) | 1
    padded = np.pad(values, ((width // 2, width // 2), (0, 0)), mode="edge")
    kernel = np.ones(width) / width
    return np.stack(
        [np.convolve(padded[:, c], kernel, mode="valid") for c in range(values.shape[1])], 1
    )


def in_place(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, J, 2) skeletons with the root's slow travel since the first frame removed.

    A driver who crosses a wide shot would walk the reference out of its photo (vtest.avi: a
    pedestrian crossing 200 px in 3 s moved the reference 360 px at 256 px output); so the
    output walks on the spot, like on a treadmill, and keeps the stride's bob and sway.
    """
    path = _slow(joints[:, ROOT], fps)
    return joints - (path - path[0])[:, None, :]


class ConfidenceEase:
    """Retargeted skeletons, eased by the driver's per-frame confidence (called in order)."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None

    def __call__(self, joints: np.ndarray, confidence: float) -> np.ndarray:
        weight = float(np.clip(confidence / FULL_TRUST, EASE_FLOOR, 1.0))
        if self._last is not None:
            joints = self._last + weight * (joints - self._last)
        self._last = joints
        return joints
