"""Local coordinates of a mouth or an eye: along the corner-to-corner axis and across it.

Lid and lip contours are functions v(u) in this frame, which turns "how far apart are the
lips here" and "where is this pixel between the lids" into 1-D interpolations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    origin: np.ndarray  # (2,) first corner
    ex: np.ndarray  # (2,) unit vector towards the second corner
    ey: np.ndarray  # (2,) unit normal, pointing towards the chin
    width: float  # corner-to-corner distance, px

    @classmethod
    def from_corners(cls, a: np.ndarray, b: np.ndarray, down: np.ndarray) -> Frame:
        axis = np.asarray(b, dtype=np.float64) - a
        width = max(float(np.hypot(*axis)), 1e-6)
        ex = axis / width
        ey = np.array([-ex[1], ex[0]])
        if ey @ down < 0:
            ey = -ey
        return cls(np.asarray(a, dtype=np.float64), ex, ey, width)

    def local(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, v): u in corner-to-corner widths (0 and 1 at the corners), v in px downwards."""
        d = np.asarray(p, dtype=np.float64) - self.origin
        return (d @ self.ex) / self.width, d @ self.ey

    def image(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Inverse of `local`: (..., 2) image points."""
        u, v = np.asarray(u)[..., None], np.asarray(v)[..., None]
        return self.origin + u * self.width * self.ex + v * self.ey

    def curve(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A contour as (u, v) samples sorted by u, ready for np.interp."""
        u, v = self.local(points)
        order = np.argsort(u, kind="stable")
        return u[order], v[order]
