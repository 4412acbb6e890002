"""Planted feet: while the driver's ankle stays on the ground, the output's does too.

The output walks on the spot (retarget.in_place), so a foot the driver has planted would slide
back under the photo like on a treadmill, and the photo's other proportions lift or sink it.
While a driver ankle is planted the whole output skeleton is shifted so that its ankle moves
no faster than a planted one may (the body moves over the foot, as the driver's does); when
no foot is planted the shift eases back to none, and it never exceeds MAX_SHIFT, so the photo
still walks on the spot. Validation (`avatarvid study bench_animate`, vtest.avi, relative
mode): the output's ankle speed while the driver's is planted 1.62 -> 0.42, 2.08 -> 1.67 and
0.24 -> 0.20 torso lengths a second on three walkers; on a man standing, 0.38 -> 0.38 (in
absolute mode 0.33 -> 0.44).
"""

from __future__ import annotations

import numpy as np

from avatarvid.motion.retarget import NECK, ROOT
from avatarvid.perception.pose import L_ANKLE, L_HIP, L_SHOULDER, R_ANKLE, R_HIP, R_SHOULDER

# A driver's ankle moving less than this (its torso lengths a second) is planted.
PLANTED_SPEED = 0.5
# The shift keeping a planted foot in place: at most MAX_SHIFT of the output's torso lengths,
# changing by at most MAX_RATE of them a second (a planted frame of a 10 fps driver would
# otherwise jerk the body a whole step), easing back to none over RELEASE_S (time constant)
# while no foot is planted.
MAX_SHIFT, MAX_RATE, RELEASE_S = 0.5, 1.0, 0.3
ANKLES = (L_ANKLE, R_ANKLE)


def ankle_speeds(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, >=33, >=2) skeletons -> (T - 1, 2) speed of each ankle since the frame before, in
    the skeleton's own torso lengths (mid-shoulder to mid-hip) a second; NaN where unseen."""
    shoulders = joints[:, [L_SHOULDER, R_SHOULDER], :2].mean(axis=1)
    hips = joints[:, [L_HIP, R_HIP], :2].mean(axis=1)
    torso = np.linalg.norm(shoulders - hips, axis=-1)
    step = np.linalg.norm(np.diff(joints[:, list(ANKLES), :2], axis=0), axis=2)
    return step / np.maximum(torso[1:, None], 1e-6) * fps


def planted(driver: np.ndarray, fps: float) -> np.ndarray:
    """(T, 35, 2) driver skeletons in its own frame (not walking on the spot) -> (T, 2) bool:
    each ankle planted (slower than PLANTED_SPEED since the frame before; never on frame 0)."""
    with np.errstate(invalid="ignore"):
        down = ankle_speeds(driver, fps) < PLANTED_SPEED
    return np.concatenate([np.zeros((1, 2), bool), down])


def _limited(vector: np.ndarray, limit: float) -> np.ndarray:
    size = float(np.linalg.norm(vector))
    return vector * (limit / size) if size > limit else vector


class FootLock:
    """Output skeletons (35, 2) shifted to keep planted ankles still (called in frame order)."""

    def __init__(self, planted: np.ndarray, fps: float) -> None:
        self._planted = planted
        self._fps = fps
        self._keep = float(np.exp(-1.0 / (RELEASE_S * fps)))
        self._last: np.ndarray | None = None
        self._shift = np.zeros(2)

    def __call__(self, joints: np.ndarray, index: int) -> np.ndarray:
        """`joints` of driver frame `index`, shifted."""
        feet = [a for a, down in zip(ANKLES, self._planted[index], strict=True) if down]
        if self._last is not None:
            drift = [joints[a] - self._last[a] for a in feet]
            drift = [d for d in drift if np.isfinite(d).all()]
            torso = float(np.linalg.norm(joints[NECK] - joints[ROOT]))
            wanted = self._shift
            if drift:
                # Only drift faster than a planted foot's is cancelled: slower is noise, and
                # the lock shook the whole body with it (synthetic driver: PCK@0.1 -0.03).
                slide = np.mean(drift, axis=0)
                wanted = self._shift - slide + _limited(slide, PLANTED_SPEED * torso / self._fps)
            elif not feet:
                wanted = self._shift * self._keep
            self._shift = self._shift + _limited(wanted - self._shift, MAX_RATE * torso / self._fps)
            self._shift = _limited(self._shift, MAX_SHIFT * torso)
        self._last = joints
        return joints + self._shift
