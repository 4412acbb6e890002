"""Cut the reference photo to the frame the video is rendered in, and track where points go.

Every resampling here is an axis-aligned scale + shift in continuous pixel coordinates
(pixel i spans [i, i + 1)), the convention of the landmark contract, so landmarks follow the
image exactly through `apply_affine(points, affine)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from avatarvid.errors import InputError

if TYPE_CHECKING:
    from avatarvid.perception.face_mesh import Face

MIN_SIZE, MAX_SIZE = 64, 2048
MODES = ("face", "full")
# "face" mode: crop side relative to the face's forehead-to-chin height, and how far below
# the face centre the crop is centred, so chin, neck and some hair are in frame. A photo too
# tight for that square gets the largest one inside it, as near that centre as it allows:
# padding a headshot out to 2.6 face heights filled most of the frame with mirrored faces.
FACE_CROP_SCALE = 2.6
FACE_CROP_DROP = 0.15


def frame_reference(
    rgb: np.ndarray, face: Face, mode: str, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (framed image, 2x3 affine from original to framed pixel coordinates).

    "face": a size x size square around the face, inside the photo. "full": the whole photo
    with its long side scaled to `size`, both sides even.
    """
    check_size(size)
    if mode == "face":
        return crop_square(rgb, *_face_square(face, rgb.shape[:2]), size)
    if mode == "full":
        return _resize_full(rgb, size)
    raise InputError(f"unknown framing mode {mode!r}; use one of: {', '.join(MODES)}")


def _face_square(face: Face, shape: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """(centre, side) of the face crop: FACE_CROP_SCALE face heights, shrunk and shifted to
    stay inside the photo."""
    height, width = shape
    side = min(FACE_CROP_SCALE * face.height, width, height)
    cx, cy = face.center
    half = side / 2
    centre = (
        float(np.clip(cx, half, width - half)),
        float(np.clip(cy + FACE_CROP_DROP * face.height, half, height - half)),
    )
    return centre, side


def check_size(size: int) -> None:
    """Video encoders need even sides; tiny or huge frames are a typo, not a request."""
    if not (isinstance(size, int | np.integer) and MIN_SIZE <= size <= MAX_SIZE and size % 2 == 0):
        raise InputError(
            f"--size {size} is not usable; pass an even number of pixels "
            f"between {MIN_SIZE} and {MAX_SIZE}"
        )


def crop_square(
    rgb: np.ndarray, centre: tuple[float, float], side: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """A `side`-pixel square around `centre`, resampled to size x size, and its affine.

    The square is snapped to whole pixels so the crop needs no interpolation of its own;
    parts outside the photo are filled by reflecting the photo (less conspicuous than smears).
    """
    height, width = rgb.shape[:2]
    side_px = max(1, round(side))
    x0 = round(centre[0] - side_px / 2)
    y0 = round(centre[1] - side_px / 2)
    x1, y1 = x0 + side_px, y0 + side_px
    inside = rgb[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if inside.size == 0:
        raise ValueError(f"crop centred at {centre} lies outside the {width}x{height} image")
    padded = cv2.copyMakeBorder(
        inside,
        max(0, -y0),
        max(0, y1 - height),
        max(0, -x0),
        max(0, x1 - width),
        cv2.BORDER_REFLECT_101,
    )
    interpolation = cv2.INTER_AREA if size < side_px else cv2.INTER_CUBIC
    framed = cv2.resize(padded, (size, size), interpolation=interpolation)
    scale = size / side_px
    affine = np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]])
    return framed, affine


def _resize_full(rgb: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w = max(2, 2 * round(width * scale / 2))
    new_h = max(2, 2 * round(height * scale / 2))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    framed = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    affine = np.array([[new_w / width, 0.0, 0.0], [0.0, new_h / height, 0.0]])
    return framed, affine


def apply_affine(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Map (N, 2) or (N, 3) points; z is scaled like x and y (by sqrt |det|) to keep its units."""
    points = np.asarray(points, dtype=np.float32)
    linear, shift = affine[:, :2], affine[:, 2]
    out = points.copy()
    out[:, :2] = points[:, :2] @ linear.T + shift
    if points.shape[1] == 3:
        out[:, 2] = points[:, 2] * np.sqrt(abs(np.linalg.det(linear)))
    return out


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """The 2x3 affine that undoes `affine`."""
    return cv2.invertAffineTransform(np.asarray(affine, dtype=np.float64))
