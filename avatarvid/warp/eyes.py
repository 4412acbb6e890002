"""Closing eyes: the lid skin slides down with the lid margin and the iris stays behind it.

Targets may move only the lid contour. Warped as given, the thin band of lashes above the
margin would stretch into a dark smear over the eye, and iris points left in place would fold
the mesh. So before warping, skin points above a lowered lid are pulled down with it (fading
towards the brow) and iris points are kept between the target lids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarvid.perception import landmark_ids as ids
from avatarvid.warp.frame import Frame

_EYES = (
    (ids.RIGHT_EYE_UPPER, ids.RIGHT_EYE_LOWER, ids.RIGHT_EYE_OUTER, ids.RIGHT_EYE_INNER),
    (ids.LEFT_EYE_UPPER, ids.LEFT_EYE_LOWER, ids.LEFT_EYE_OUTER, ids.LEFT_EYE_INNER),
)
_SKIN_REACH = 0.45  # lid-skin points up to this many eye widths above the margin follow it
_IRIS_SLACK = 0.25  # iris may move this fraction of the lid gap relative to the lids
_GAZE_SLACK = 0.3  # ... and this many eye widths along the eye
_MIN_GAP = 0.5  # px


@dataclass(frozen=True)
class _Eye:
    upper: tuple[int, ...]
    lower: tuple[int, ...]
    corners: tuple[int, int]
    width: float
    upper_curve: tuple[np.ndarray, np.ndarray]
    iris: np.ndarray  # (5,) landmark indices
    iris_u: np.ndarray
    iris_s: np.ndarray  # position between the lids: 0 upper, 1 lower
    skin: np.ndarray  # mesh points above the upper lid that follow it
    skin_u: np.ndarray
    skin_v: np.ndarray
    skin_weight: np.ndarray


def _between(upper, lower, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper-lid v and (non-negative) lid gap at u, for contours as (u, v) samples."""
    top = np.interp(u, *upper)
    return top, np.maximum(np.interp(u, *lower) - top, 0.0)


class EyelidRig:
    """Per-reference precomputation; `adjust` rewrites a target's lid skin and iris points."""

    def __init__(self, reference: np.ndarray):
        ref = np.asarray(reference, dtype=np.float64)[:, :2]
        self._down = ref[ids.CHIN] - ref[ids.FOREHEAD_TOP]
        iris_sets = (np.array(ids.RIGHT_IRIS), np.array(ids.LEFT_IRIS))
        contours = {i for upper, lower, *_ in _EYES for i in upper + lower}
        candidates = np.array([i for i in range(ids.NUM_MESH) if i not in contours])
        self._eyes = []
        for upper, lower, outer, inner in _EYES:
            frame = Frame.from_corners(ref[outer], ref[inner], self._down)
            up, lo = frame.curve(ref[list(upper)]), frame.curve(ref[list(lower)])
            centre = ref[[outer, inner]].mean(axis=0)
            iris = min(iris_sets, key=lambda s: np.linalg.norm(ref[s[0]] - centre))
            iris_u, iris_v = frame.local(ref[iris])
            top, gap = _between(up, lo, iris_u)
            u, v = frame.local(ref[candidates])
            above = np.interp(u, *up) - v
            weight = 1.0 - above / (_SKIN_REACH * frame.width)
            near = (above > 0) & (weight > 0) & (u > -0.2) & (u < 1.2)
            self._eyes.append(
                _Eye(
                    upper,
                    lower,
                    (outer, inner),
                    frame.width,
                    up,
                    iris,
                    iris_u,
                    (iris_v - top) / np.maximum(gap, _MIN_GAP),
                    candidates[near],
                    u[near],
                    v[near],
                    weight[near],
                )
            )

    def adjust(self, target: np.ndarray) -> np.ndarray:
        """(478, 2) target with lid skin following lowered lids and irises kept inside."""
        out = np.array(target, dtype=np.float64)
        for eye in self._eyes:
            frame = Frame.from_corners(out[eye.corners[0]], out[eye.corners[1]], self._down)
            scale = frame.width / eye.width
            up, lo = frame.curve(out[list(eye.upper)]), frame.curve(out[list(eye.lower)])

            # Lid skin: push down by what the margin dropped below its rest shape, unless the
            # target already moved the point that far.
            drop = np.interp(eye.skin_u, *up) - scale * np.interp(eye.skin_u, *eye.upper_curve)
            _, v_now = frame.local(out[eye.skin])
            push = np.maximum(eye.skin_weight * drop - (v_now - scale * eye.skin_v), 0.0)
            out[eye.skin] += push[:, None] * frame.ey

            u, v = frame.local(out[eye.iris])
            u = np.clip(u, eye.iris_u - _GAZE_SLACK, eye.iris_u + _GAZE_SLACK)
            top, gap = _between(up, lo, u)
            s = np.clip(
                (v - top) / np.maximum(gap, _MIN_GAP),
                eye.iris_s - _IRIS_SLACK,
                eye.iris_s + _IRIS_SLACK,
            )
            out[eye.iris] = frame.image(u, top + s * gap)
        return out
