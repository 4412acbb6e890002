"""The diffusion renderer's view of a frame: a fixed face box and rasterised control maps.

The box is fixed per video (from the reference landmarks) so the network sees a stable frame
and its output can be pasted back without jitter. Control maps are face-mesh drawings with one
channel per part, so the network can tell lips from lids at 64 px.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatarvid.perception import landmark_ids as ids

# Box side relative to the forehead-to-chin height: the face, its outline and a little hair.
BOX_SCALE = 1.55
BOX_DROP = 0.08  # box centre below the face centre, in face heights (the chin matters more)

_OUTLINE = (ids.FACE_OVAL + ids.FACE_OVAL[:1], ids.RIGHT_BROW[:5], ids.LEFT_BROW[:5])
_NOSE = (ids.NOSE_BRIDGE + (4, 1),)
_EYES = (ids.RIGHT_EYE_UPPER, ids.RIGHT_EYE_LOWER, ids.LEFT_EYE_UPPER, ids.LEFT_EYE_LOWER)
_LIPS = (ids.LIPS_OUTER + ids.LIPS_OUTER[:1], ids.LIPS_INNER + ids.LIPS_INNER[:1])


def face_box(landmarks: np.ndarray) -> np.ndarray:
    """2x3 affine from image pixels to a unit square (0..1) around the face."""
    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    top, chin = lm[ids.FOREHEAD_TOP], lm[ids.CHIN]
    height = max(float(np.hypot(*(chin - top))), 1.0)
    centre = lm[list(ids.FACE_OVAL)].mean(axis=0) + [0.0, BOX_DROP * height]
    side = BOX_SCALE * height
    x0, y0 = centre - side / 2
    return np.array([[1 / side, 0.0, -x0 / side], [0.0, 1 / side, -y0 / side]])


def box_affine(box: np.ndarray, size: int) -> np.ndarray:
    """2x3 affine from image pixels to a size x size model frame."""
    return box * size


def crop(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """The box resampled to size x size (area-averaged: the model frame is small)."""
    m = box_affine(box, size)
    scale = 1.0 / m[0, 0]
    src = image
    if scale > 2:  # pre-shrink so bilinear sampling does not alias
        k = int(scale // 2)
        src = cv2.resize(image, (image.shape[1] // k, image.shape[0] // k), cv2.INTER_AREA)
        m = m.copy()
        m[:, :2] *= k
    return cv2.warpAffine(
        src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def draw_controls(landmarks: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8 control map of (478, 2+) image-pixel landmarks.

    Channels: face outline + brows + nose / eyes + irises / lips (outer and inner contours, the
    inner mouth filled at half intensity so an open mouth is a region, not just two lines).
    """
    m = box_affine(box, size)
    p = np.asarray(landmarks, dtype=np.float64)[:, :2] @ m[:, :2].T + m[:, 2]
    fixed = np.round(p * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    planes = [np.zeros((size, size), np.uint8) for _ in range(3)]

    def lines(plane: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> None:
        curves = [fixed[list(g)] for g in groups]
        cv2.polylines(plane, curves, False, 255, 1, cv2.LINE_AA, shift=4)

    cv2.fillPoly(planes[2], [fixed[list(ids.LIPS_INNER)]], 128, cv2.LINE_AA, shift=4)
    lines(planes[0], _OUTLINE + _NOSE)
    lines(planes[1], _EYES)
    lines(planes[2], _LIPS)
    for iris in (ids.RIGHT_IRIS, ids.LEFT_IRIS):
        centre = p[iris[0]]
        radius = float(np.linalg.norm(p[list(iris[1:])] - centre, axis=1).mean())
        cv2.circle(
            planes[1],
            tuple(np.round(centre * 16).astype(int)),
            round(radius * 16),
            160,
            -1,
            cv2.LINE_AA,
            shift=4,
        )
    return np.stack(planes, axis=-1)


def mouth_box(landmarks: np.ndarray, box: np.ndarray, size: int) -> tuple[slice, slice]:
    """Rows/columns of the model frame around the mouth (lips plus a margin): for metrics."""
    m = box_affine(box, size)
    p = np.asarray(landmarks, dtype=np.float64)[list(ids.LIPS_OUTER), :2] @ m[:, :2].T + m[:, 2]
    (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
    pad = 0.25 * (x1 - x0)
    lo = np.clip(np.floor([x0 - pad, y0 - pad]), 0, size - 1).astype(int)
    hi = np.clip(np.ceil([x1 + pad, y1 + pad]), 1, size).astype(int)
    return slice(lo[1], hi[1]), slice(lo[0], hi[0])
