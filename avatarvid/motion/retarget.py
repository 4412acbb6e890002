"""Body retargeting: the driver's motion applied to the reference's skeleton, not its bones.

Skeletons are mediapipe's 33 pose landmarks plus two virtual joints (mid-hip = root, and
mid-shoulder), linked into a tree. Each bone of the output keeps the *reference's* length
(times the driver's own foreshortening ratio, so an arm pointing at the camera still looks
shorter) and takes its direction from the driver:

- relative (default, as in FOMM / LivePortrait): the driver's rotation of each bone since the
  alignment frame is added to the reference's bone direction, and the root moves by the
  driver's root displacement scaled by the ratio of torso sizes;
- absolute: each bone points where the driver's does, the root sits where the driver's does
  after aligning scale and position on the alignment frame.

So a driver twice as tall as the reference moves the reference's limbs without stretching them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarvid.geometry import rotate_2d
from avatarvid.perception.pose import L_HIP, L_SHOULDER, NUM_POSE, R_HIP, R_SHOULDER

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
# Foreshortening: how much shorter / longer than at the alignment frame a bone may appear.
_MIN_RATIO, _MAX_RATIO = 0.3, 1.15


def with_virtual_joints(points: np.ndarray) -> np.ndarray:
    """(..., 33, 2) -> (..., 35, 2): mid-hip and mid-shoulder appended."""
    root = (points[..., L_HIP, :] + points[..., R_HIP, :]) / 2
    neck = (points[..., L_SHOULDER, :] + points[..., R_SHOULDER, :]) / 2
    return np.concatenate([points, root[..., None, :], neck[..., None, :]], axis=-2)


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
        root_shift = driver[ROOT] - anchor[ROOT]
        out[ROOT] = ref[ROOT] + (self.scale * root_shift if np.isfinite(root_shift).all() else 0)
        for parent, child in BONES:
            ref_bone = ref[child] - ref[parent]
            now, then = driver[child] - driver[parent], anchor[child] - anchor[parent]
            if not (np.isfinite(now).all() and np.isfinite(then).all()):
                out[child] = out[parent] + ref_bone  # not seen: keep the reference's pose
                continue
            ratio = np.linalg.norm(now) / max(np.linalg.norm(then), 1e-6)
            ratio = float(np.clip(ratio, _MIN_RATIO, _MAX_RATIO))
            if self.mode == "relative":
                bone = rotate_2d(ref_bone, _angle(now) - _angle(then))
            else:
                bone = now / max(np.linalg.norm(now), 1e-6) * np.linalg.norm(ref_bone)
            out[child] = out[parent] + ratio * bone
        return out
