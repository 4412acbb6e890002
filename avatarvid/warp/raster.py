"""Backward map of a piecewise-affine warp, rasterised scanline by scanline in numpy.

Every moving triangle is cut into horizontal pixel spans (vectorised over all triangles and
rows at once), and each pixel of a span gets the source position of the affine map of its
triangle. Triangles are drawn back to front, so where the target mesh folds over itself (a
turned head, a bad landmark) the nearest surface wins instead of the result being undefined.
"""

from __future__ import annotations

import numpy as np

# Degenerate (zero-area) target triangles cover no pixel centre that a neighbour does not.
_MIN_DET = 1e-6
_EDGE_EPS = 1e-6
_CHUNK_PIXELS = 1 << 21


def _spans(dst: np.ndarray, height: int) -> tuple[np.ndarray, ...]:
    """(triangle, row, x_left, x_right) of every pixel row crossing each (3, 2) triangle."""
    order = np.argsort(dst[:, :, 1], axis=1, kind="stable")
    v = np.take_along_axis(dst, order[:, :, None], axis=1)
    (x0, x1, x2), (y0, y1, y2) = v[:, :, 0].T, v[:, :, 1].T
    first = np.maximum(np.ceil(y0), 0).astype(np.int64)
    last = np.minimum(np.floor(y2), height - 1).astype(np.int64)
    rows = np.maximum(last - first + 1, 0)
    tri = np.repeat(np.arange(len(dst)), rows)
    starts = np.cumsum(rows) - rows
    y = (first[tri] + np.arange(len(tri)) - starts[tri]).astype(np.float64)
    x0, x1, x2, y0, y1, y2 = (a[tri] for a in (x0, x1, x2, y0, y1, y2))

    def edge_x(xa, ya, xb, yb):
        # Same expression for an edge whichever triangle it belongs to: shared edges agree.
        dy = yb - ya
        slope = np.divide(xb - xa, dy, out=np.zeros_like(dy), where=dy > 0)
        return xa + (y - ya) * slope

    long_x = edge_x(x0, y0, x2, y2)
    short_x = np.where(y < y1, edge_x(x0, y0, x1, y1), edge_x(x1, y1, x2, y2))
    left = np.ceil(np.minimum(long_x, short_x) - _EDGE_EPS)
    right = np.floor(np.maximum(long_x, short_x) + _EDGE_EPS)
    return tri, y, left, right


class TriangleWarpMap:
    """Backward maps (output pixel -> source position) for one fixed triangulation."""

    def __init__(self, triangles: np.ndarray, source: np.ndarray, shape: tuple[int, int]):
        self.triangles = np.asarray(triangles, dtype=np.int64)
        self.source = np.asarray(source, dtype=np.float64)
        self.height, self.width = shape
        e = self.source[self.triangles]
        e1, e2 = e[:, 1] - e[:, 0], e[:, 2] - e[:, 0]
        self._orientation = np.sign(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        self._grid_y, self._grid_x = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)

    def __call__(
        self, target: np.ndarray, depth: np.ndarray | None = None
    ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
        """Maps over the bounding box of the triangles that move, or None if none moves.

        `target` are the (N, 2) vertex positions in the output; `depth` (N,) orders overlapping
        triangles (larger = farther, drawn first). Pixels no moving triangle covers keep the
        identity map, which is what the static triangles there would give.
        """
        target = np.asarray(target, dtype=np.float64)
        moved = np.abs(target - self.source).max(axis=1) > 1e-3
        moving = moved[self.triangles].any(axis=1)
        tris = self.triangles[moving]
        if len(tris) == 0:
            return None
        dst, src = target[tris], self.source[tris]
        e1, e2 = dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        keep = np.flatnonzero(np.abs(det) > _MIN_DET)
        if len(keep) == 0:
            return None
        # Draw order: triangles facing away (flipped by a fold) first, then far to near, so
        # the nearest front-facing surface ends up on top.
        key = (np.sign(det[keep]) == self._orientation[moving][keep]).astype(np.float64)
        if depth is not None:
            z = np.asarray(depth, dtype=np.float64)[tris[keep]].mean(axis=1)
            key = key * 2 * (np.ptp(z) + 1.0) + (z.max() - z)
        keep = keep[np.argsort(key, kind="stable")]
        dst, src, e1, e2, det = dst[keep], src[keep], e1[keep], e2[keep], det[keep]

        # Affine target -> source per triangle: s = s0 + J (p - d0), J = S E^-1.
        inv = np.stack([e2[:, 1], -e2[:, 0], -e1[:, 1], e1[:, 0]], axis=1) / det[:, None]
        inv = inv.reshape(-1, 2, 2)
        s_edges = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], axis=2)
        jac = s_edges @ inv

        lo = np.clip(np.floor(dst.min(axis=(0, 1))), 0, [self.width - 1, self.height - 1])
        hi = np.clip(np.ceil(dst.max(axis=(0, 1))), 0, [self.width - 1, self.height - 1])
        (bx0, by0), (bx1, by1) = lo.astype(int), hi.astype(int)
        roi = (slice(by0, by1 + 1), slice(bx0, bx1 + 1))
        roi_w = bx1 - bx0 + 1
        map_x, map_y = self._grid_x[roi].copy(), self._grid_y[roi].copy()

        tri, y, left, right = _spans(dst, self.height)
        left = np.maximum(left, 0)
        right = np.minimum(right, self.width - 1)
        count = np.maximum(right - left + 1, 0).astype(np.int64)
        # Source position at the left end of each span, then one Jacobian column per pixel.
        rel_x, rel_y = left - dst[tri, 0, 0], y - dst[tri, 0, 1]
        j = jac[tri]
        spans = (
            ((y - by0) * roi_w + left - bx0).astype(np.int32),
            count,
            (src[tri, 0, 0] + j[:, 0, 0] * rel_x + j[:, 0, 1] * rel_y).astype(np.float32),
            (src[tri, 0, 1] + j[:, 1, 0] * rel_x + j[:, 1, 1] * rel_y).astype(np.float32),
            j[:, 0, 0].astype(np.float32),
            j[:, 1, 0].astype(np.float32),
        )
        # Wildly folded targets can cover the image many times over: bound the memory.
        chunk = np.cumsum(count) // _CHUNK_PIXELS
        for c in range(int(chunk[-1]) + 1 if len(chunk) else 0):
            part = slice(*np.searchsorted(chunk, [c, c + 1]))
            _fill(map_x.ravel(), map_y.ravel(), *(a[part] for a in spans))
        return roi, map_x, map_y


def _fill(map_x, map_y, start, count, sx0, sy0, dx, dy) -> None:
    """Writes spans in order (later spans overwrite earlier ones): pixel k of a span starting
    at flat index `start` gets (sx0 + k dx, sy0 + k dy)."""
    step = np.arange(count.sum(), dtype=np.int32)
    step -= np.repeat((np.cumsum(count) - count).astype(np.int32), count)
    flat = np.repeat(start, count) + step
    step_f = step.astype(np.float32)
    map_x[flat] = np.repeat(sx0, count) + np.repeat(dx, count) * step_f
    map_y[flat] = np.repeat(sy0, count) + np.repeat(dy, count) * step_f
