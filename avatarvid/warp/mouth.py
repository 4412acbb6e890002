"""Mouth interior for targets whose lips part further than the reference's.

Stretching the reference's lip gap would smear lips and teeth over the opening. Instead the
interior is painted in the mouth's own frame (u along the corners, v across): what the
reference showed between its lips stays attached, unstretched, to the lip it belongs to (upper
teeth to the upper lip; below a dark gap, lower teeth to the lower lip) and the extra opening
is a dark cavity with a hint of teeth under the upper lip and of the tongue low down.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatarvid.perception import landmark_ids as ids
from avatarvid.warp.frame import Frame

# ((y0, x0) of a box, colours (h, w, 3), coverage (h, w, 1) in [0, 1]): paint laid over a
# render, e.g. the mouth interior over a warp that cannot draw it
Overlay = tuple[tuple[int, int], np.ndarray, np.ndarray]

_INNER_CORNERS = (ids.LIPS_INNER[0], ids.UPPER_LIP_INNER[-1])
_LUMA = np.array([0.299, 0.587, 0.114])
_DEFAULT_TEETH = np.array([232.0, 226.0, 212.0])
_CAVITY = np.array([0.28, 0.16, 0.15])  # cavity = lip colour darkened, kept reddish
_TONGUE = np.array([0.78, 0.52, 0.52])
_FULL_OPEN = 0.04  # extra opening (mouth widths) at which the painting is fully blended in
_MIN_REF_GAP = 0.8  # px; a thinner reference gap shows nothing worth keeping


def _smooth_window(x: np.ndarray, half: float) -> np.ndarray:
    """1 at 0, falling smoothly to 0 at |x| = half."""
    t = np.clip(1.0 - (x / half) ** 2, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _polygon_mask(shape: tuple[int, int], poly: np.ndarray) -> np.ndarray:
    """Anti-aliased float mask of a polygon given in pixel coordinates."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


class MouthPainter:
    """Per-reference colours and lip geometry; `paint` fills an opened mouth in place."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray):
        ref = np.asarray(landmarks, dtype=np.float64)[:, :2]
        self._image = image
        self._frame = Frame.from_corners(
            ref[_INNER_CORNERS[0]], ref[_INNER_CORNERS[1]], ref[ids.CHIN] - ref[ids.FOREHEAD_TOP]
        )
        self._up = self._frame.curve(ref[list(ids.UPPER_LIP_INNER)])
        self._lo = self._frame.curve(ref[list(ids.LOWER_LIP_INNER)])
        lip, interior = self._sample(image, ref)
        self._cavity = lip * _CAVITY
        self._tongue = lip * _TONGUE
        bright = interior[interior @ _LUMA > 1.15 * (lip @ _LUMA)]
        self._ref_teeth = len(bright) >= 12
        self._teeth = np.median(bright, axis=0) if self._ref_teeth else _DEFAULT_TEETH
        self._split = self._teeth_split() if self._ref_teeth else 1.0

    def _sample(self, image: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Median lip colour and the pixels between the reference's lips."""
        outer = _polygon_mask(image.shape[:2], ref[list(ids.LIPS_OUTER)]) > 0.5
        inner = _polygon_mask(image.shape[:2], ref[list(ids.LIPS_INNER)])
        lips = image[outer & (cv2.dilate(inner, np.ones((3, 3))) == 0)].astype(np.float64)
        lip = np.median(lips, axis=0) if len(lips) else np.array([170.0, 90.0, 90.0])
        return lip, image[inner > 0.5].astype(np.float64)

    def _teeth_split(self) -> float:
        """Fraction of the reference gap (from the top) holding upper teeth: down to the
        darkest row between upper and lower teeth if there is one, else all of it."""
        s = np.linspace(0.0, 1.0, 17)
        u = np.linspace(0.3, 0.7, 9)
        top = np.interp(u, *self._up)
        gap = np.interp(u, *self._lo) - top
        pts = self._frame.image(u[None, :], top[None, :] + s[:, None] * gap[None, :])
        rows = (
            cv2.remap(
                self._image,
                pts[..., 0].astype(np.float32),
                pts[..., 1].astype(np.float32),
                cv2.INTER_LINEAR,
            )
            @ _LUMA
        )
        profile = rows.mean(axis=1)
        middle = slice(4, 14)
        dip = int(np.argmin(profile[middle])) + middle.start
        return float(s[dip]) if profile[dip] < 0.6 * profile.max() else 1.0

    def paint(self, out: np.ndarray, target: np.ndarray, scale: float) -> None:
        """Paints the mouth interior of `target` ((478, 2) px) into the rendered `out`.

        `scale` is the head's size in the target relative to the reference.
        """
        found = self.interior(out.shape[:2], target, scale)
        if found is None:
            return
        (y0, x0), colour, mask = found
        box = (slice(y0, y0 + mask.shape[0]), slice(x0, x0 + mask.shape[1]))
        roi = out[box].astype(np.float32)
        out[box] = np.clip(roi + mask * (colour - roi) + 0.5, 0, 255).astype(np.uint8)

    def interior(self, shape: tuple[int, int], target: np.ndarray, scale: float) -> Overlay | None:
        """The mouth interior of `target` in a frame of `shape`: ((y0, x0) of its box, colours
        (h, w, 3), coverage (h, w, 1) in [0, 1]), or None when the lips part no
        further than the reference's (nothing to paint)."""
        tgt = np.asarray(target, dtype=np.float64)
        frame = Frame.from_corners(
            tgt[_INNER_CORNERS[0]], tgt[_INNER_CORNERS[1]], tgt[ids.CHIN] - tgt[ids.FOREHEAD_TOP]
        )
        up, lo = (
            frame.curve(tgt[list(ids.UPPER_LIP_INNER)]),
            frame.curve(tgt[list(ids.LOWER_LIP_INNER)]),
        )
        probe = np.linspace(0.2, 0.8, 13)
        excess = np.max(self._gap(probe, up, lo) - scale * self._gap(probe, self._up, self._lo))
        strength = float(np.clip(excess / (_FULL_OPEN * frame.width), 0.0, 1.0))
        if strength <= 0.0:
            return None

        poly = tgt[list(ids.LIPS_INNER)]
        sigma = max(0.5, 0.012 * frame.width)  # feathering of the painted area
        pad = int(np.ceil(3 * sigma)) + 2
        h, w = shape
        x0, y0 = np.maximum(np.floor(poly.min(axis=0)) - pad, 0).astype(int)
        x1, y1 = np.minimum(np.ceil(poly.max(axis=0)) + pad + 1, [w, h]).astype(int)
        if x1 <= x0 or y1 <= y0:
            return None
        yy, xx = np.mgrid[y0:y1, x0:x1]
        u, v = frame.local(np.stack([xx, yy], axis=-1))
        colour = self._interior(u, v, up, lo, scale, frame.width)

        mask = _polygon_mask((y1 - y0, x1 - x0), poly - [x0, y0])
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)[..., None] * strength
        return (int(y0), int(x0)), colour, mask

    @staticmethod
    def _gap(u: np.ndarray, up, lo) -> np.ndarray:
        return np.maximum(np.interp(u, *lo) - np.interp(u, *up), 0.0)

    def _interior(self, u, v, up, lo, scale: float, width: float) -> np.ndarray:
        """(h, w, 3) float colours of the mouth interior at target mouth coordinates (u, v)."""
        top, bottom = np.interp(u, *up), np.interp(u, *lo)
        gap = np.maximum(bottom - top, 0.0)
        d_up, d_lo = v - top, bottom - v
        ref_top, ref_bottom = np.interp(u, *self._up), np.interp(u, *self._lo)
        # Without teeth the reference's lip gap is only a dark line: nothing to keep.
        ref_gap = np.maximum(ref_bottom - ref_top, 0.0) * self._ref_teeth
        shown = np.minimum(gap, scale * ref_gap)  # part of the opening the reference fills
        band_up, band_lo = self._split * shown, (1 - self._split) * shown
        colour = self._synthetic(u, d_up - band_up, d_lo - band_lo, gap - shown, width)

        # The reference interior, unstretched, on the lip each part belongs to.
        real = ref_gap >= _MIN_REF_GAP
        per_px = np.minimum(ref_gap / np.maximum(shown, 1e-3), 2.0 / scale)
        soft = 0.5 + 0.015 * width
        w_up = np.clip((band_up - d_up) / soft + 0.5, 0, 1) * real
        w_lo = np.clip((band_lo - d_lo) / soft + 0.5, 0, 1) * real * (1 - w_up)
        colour += w_up[..., None] * (self._sample_ref(u, ref_top + d_up * per_px) - colour)
        colour += w_lo[..., None] * (self._sample_ref(u, ref_bottom - d_lo * per_px) - colour)
        return colour

    def _synthetic(self, u, e_up, e_lo, extra, width: float) -> np.ndarray:
        """Cavity, tongue and teeth hints in the extra opening; e_up / e_lo are distances
        below the upper / above the lower part kept from the reference."""
        middle = np.clip(np.minimum(e_up, e_lo) / np.maximum(0.5 * extra, 0.5), 0, 1)
        side = np.clip(np.abs(u - 0.5) / 0.5, 0, 1)
        shade = (1.25 - 0.55 * middle) * (1 - 0.4 * side**2)
        colour = self._cavity * shade[..., None]
        grow = np.clip(extra / (0.25 * width), 0, 1)
        r = np.hypot((u - 0.5) / 0.32, (e_lo - 0.25 * extra) / np.maximum(0.4 * extra, 1e-3))
        tongue = 0.8 * grow * _smooth_window(r, 1.0)
        tongue_colour = self._tongue * (0.8 + 0.25 * _smooth_window(r, 1.0))[..., None]
        colour += tongue[..., None] * (tongue_colour - colour)
        if not self._ref_teeth:
            across = _smooth_window(u - 0.5, 0.36)
            band = np.minimum(0.45 * extra, 0.12 * width)
            upper = 0.75 * across * np.clip(extra / (0.15 * width), 0, 1)
            upper *= np.clip(band - e_up + 0.5, 0, 1)
            lit = (0.7 + 0.3 * across) * (1 - 0.2 * np.clip(e_up / np.maximum(band, 1e-3), 0, 1))
            colour += upper[..., None] * (self._teeth * lit[..., None] - colour)
        if self._split >= 1.0:  # no lower teeth kept from the reference: hint at them
            band = np.minimum(0.2 * extra, 0.05 * width)
            lower = 0.3 * _smooth_window(u - 0.5, 0.25) * grow
            lower *= np.clip(band - e_lo + 0.5, 0, 1)
            colour += lower[..., None] * (0.85 * self._teeth - colour)
        return colour

    def _sample_ref(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        pts = self._frame.image(u, v).astype(np.float32)
        return cv2.remap(
            self._image, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
