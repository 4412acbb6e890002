"""Fast renderer: the reference photo warped piecewise-affinely onto target landmarks.

The face mesh alone would tear the face off the head, so the fixed triangulation also holds
a ring of points around the head (following the head's rigid motion, so hair and ears come
along), points on the neck (following it half-way) and an outer ring plus a frame round the
image that stay put, so the background does not move. Given the person's mask, the head ring
goes round the hair (or a hat) above the face instead of cutting through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from avatarvid.geometry import Similarity, fit_similarity
from avatarvid.perception import landmark_ids as ids
from avatarvid.warp.eyes import EyelidRig
from avatarvid.warp.mouth import MouthPainter, Overlay
from avatarvid.warp.raster import TriangleWarpMap

# Ring radii as multiples of the face oval's distance from the face centre, at the top of
# the head / at the sides / under the chin. The top reaches over the hair.
_SKIN_RING = (1.06, 1.1, 1.05)  # just outside the oval: skin at the face's edge moves with it
_HEAD_RING = (1.8, 1.5, 1.25)
_NECK_RING = (1.75, 1.75, 1.75)  # only below the jaw
_OUTER_RING = (2.5, 2.2, 2.3)
# Head-ring depth between its oval point's (0) and the outline's (1): less shear of the hair
# between hairline and crown when the head turns.
_OUTLINE_DEPTH = 0.7
# How much a head-ring point under the chin follows the jaw's own (non-rigid) motion: most
# of it, so an opening jaw moves the throat's texture rather than squeezing it into a line.
_JAW_FOLLOW = 0.9
_NECK_RIGID = 0.5
_NECK_BELOW = -0.5  # neck points only where the oval points this far downwards (cosine)
_BORDER_STEPS = 8
# The still frame lies this far (of the image's larger side) outside the image, so rings can
# follow the head out of the picture instead of being pinned to its edge (where they folded).
_FRAME_PAD = 0.25
_MIN_SPACING = 2.0  # px; closer extra points are dropped
# Hair reaching past the head ring stayed behind, stretched, when the head moved: a torn
# hairline on the astronaut in the demo. With the person's mask, the ring of each direction
# above the ears goes this far (in oval distances) past where the mask ends, up to the limit
# (upwards, sideways), and the outer ring keeps a band at least _STRETCH_GAP wide beyond it
# for the background to stretch in (0.8 over 1.2: that cost carphone's face box 0.16 dB).
_SILHOUETTE_MARGIN = 0.08
_SILHOUETTE_LIMIT = (2.6, 2.0)
_SILHOUETTE_UP = 0.3  # directions this far upwards (cosine) and more follow the mask fully
_STRETCH_GAP = 0.8


def fit_head_motion(source: np.ndarray, target: np.ndarray) -> Similarity:
    """Rigid head motion with uniform scale between (K, 3) point sets, in 3D so that a turned
    head moves its outline (near the pivot depth) less than its face (in front of it).

    A target without usable depth (e.g. all zeros) borrows the source's: the fit then only
    sees in-plane motion instead of inventing a rotation that flattens the face.
    """
    target = target.copy()
    if np.ptp(target[:, 2]) < 0.1 * np.ptp(source[:, 2]):
        target[:, 2] = source[:, 2]
    return fit_similarity(source, target)


@dataclass(frozen=True)
class _Extras:
    """Control points outside the face mesh and how each follows the head."""

    points: np.ndarray  # (K, 3) reference positions, with the depth they turn at
    anchor: np.ndarray  # (K,) face-oval landmark whose non-rigid motion it may share
    rigid: np.ndarray  # (K,) fraction of the head's rigid motion it follows
    local: np.ndarray  # (K,) fraction of its anchor's non-rigid motion it follows


def _ring_scale(cos_up: np.ndarray, radii: tuple[float, float, float]) -> np.ndarray:
    top, side, bottom = radii
    return side + (top - side) * np.maximum(cos_up, 0) + (bottom - side) * np.maximum(-cos_up, 0)


def _silhouette_reach(
    person: np.ndarray, centre: np.ndarray, d: np.ndarray, limit: np.ndarray
) -> np.ndarray:
    """Per (K, 2) direction `d` from `centre`, the multiple of it at which the (H, W) person
    mask ends, walking out from the face oval (1); NaN where it has not ended by `limit` (K,):
    what goes on that far is not hair (a second person, the mirror image of a padded frame)."""
    h, w = person.shape
    r = np.arange(1.0, limit.max() + 0.02, 0.02)
    xy = centre + r[None, :, None] * d[:, None, :]
    inside = (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0) & (xy[..., 1] <= h - 1)
    x = np.clip(np.round(xy[..., 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(xy[..., 1]).astype(int), 0, h - 1)
    outside = ~((person[y, x] > 0.5) & inside)
    end = r[outside.argmax(axis=1)]
    return np.where(outside.any(axis=1) & (end < limit), end, np.nan)


def _head_rings(
    cos_up: np.ndarray, centre: np.ndarray, d: np.ndarray, person: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(K,) radii of the head ring and the outer ring per oval point, round the person's
    hair where a mask is given."""
    head = _ring_scale(cos_up, _HEAD_RING)
    outer = _ring_scale(cos_up, _OUTER_RING)
    if person is None:
        return head, outer
    up = np.maximum(cos_up, 0)
    top, side = _SILHOUETTE_LIMIT
    reach = _silhouette_reach(person, centre, d, side + (top - side) * up)
    follow = np.clip(cos_up / _SILHOUETTE_UP, 0, 1)
    grow = follow * np.nan_to_num(np.maximum(reach + _SILHOUETTE_MARGIN - head, 0))
    return head + grow, np.where(grow > 0, np.maximum(outer, head + grow + _STRETCH_GAP), outer)


def _build_extras(
    landmarks: np.ndarray, shape: tuple[int, int], person: np.ndarray | None
) -> _Extras:
    lm = landmarks[:, :2]
    oval_idx = np.array(ids.FACE_OVAL)
    oval = lm[oval_idx]
    centre = oval.mean(axis=0)
    up = lm[ids.FOREHEAD_TOP] - lm[ids.CHIN]
    up /= max(np.linalg.norm(up), 1e-6)
    d = oval - centre
    cos_up = d @ up / np.maximum(np.linalg.norm(d, axis=1), 1e-6)

    # Depth of the head's outline: it turns about a pivot near the depth of the face's sides.
    oval_z = landmarks[oval_idx, 2]
    outline_z = oval_z.max()
    pts, depth, anchor, rigid, local = [], [], [], [], []

    def add(p, z, a, r, lo):
        pts.append(p)
        depth.append(np.broadcast_to(z, len(p)))
        anchor.append(a)
        rigid.append(np.broadcast_to(r, len(p)))
        local.append(np.broadcast_to(lo, len(p)))

    jaw = _JAW_FOLLOW * np.maximum(-cos_up, 0)
    head, outer = _head_rings(cos_up, centre, d, person)
    add(centre + d * _ring_scale(cos_up, _SKIN_RING)[:, None], oval_z, oval_idx, 1.0, 1.0)
    add(
        centre + d * head[:, None],
        oval_z + _OUTLINE_DEPTH * (outline_z - oval_z),
        oval_idx,
        1.0,
        jaw,
    )
    neck = cos_up < _NECK_BELOW
    add(
        centre + d[neck] * _ring_scale(cos_up[neck], _NECK_RING)[:, None],
        outline_z,
        oval_idx[neck],
        _NECK_RIGID,
        0.5 * jaw[neck],
    )
    add(centre + d * outer[:, None], 0.0, oval_idx, 0.0, 0.0)
    t = np.linspace(0, 1, _BORDER_STEPS + 1)[:-1]
    (x0, y0), (x1, y1) = _frame(shape)
    border = np.concatenate(
        [
            np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1),
            np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1),
            np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1),
            np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1),
        ]
    )
    add(border, 0.0, np.zeros(len(border), dtype=int), 0.0, 0.0)

    points = np.concatenate(pts)
    inner = len(points) - len(border)
    points[:inner] = _clip(points[:inner], shape)
    # Drop ring points crowding the mesh or each other; the border always stays.
    kept = list(range(inner, len(points)))
    taken = np.vstack([lm, points[inner:]])
    for i in range(inner):
        if np.min(np.linalg.norm(taken - points[i], axis=1)) >= _MIN_SPACING:
            kept.append(i)
            taken = np.vstack([taken, points[i]])
    kept.sort()
    z = np.concatenate(depth)[kept, None]
    return _Extras(
        np.hstack([points[kept], z]),
        np.concatenate(anchor)[kept],
        np.concatenate(rigid)[kept],
        np.concatenate(local)[kept],
    )


def _frame(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) corners of the still frame: the image grown by _FRAME_PAD of its larger side."""
    h, w = shape
    pad = _FRAME_PAD * max(h, w)
    return np.array([-pad, -pad]), np.array([w - 1.0 + pad, h - 1.0 + pad])


def _clip(p: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inside the still frame, one pixel off it so moving points do not sit on it."""
    lo, hi = _frame(shape)
    return np.clip(p, lo + 1.0, hi - 1.0)


class FaceWarper:
    """Renders the reference photo with its face moved onto target landmarks.

    Everything that does not depend on the target (triangulation, rings, lip and lid
    geometry, colours) is computed once here; `render` costs a few ms per frame.
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, person: np.ndarray | None = None):
        """`person`: the photo's (H', W') person probability (`segment_person`, any size),
        so the hair moves with the head; without it the head ring has fixed radii."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        lm = np.asarray(landmarks, dtype=np.float64)
        if lm.shape != (ids.NUM_LANDMARKS, 3) or not np.isfinite(lm).all():
            raise ValueError(f"expected finite ({ids.NUM_LANDMARKS}, 3) landmarks, got {lm.shape}")
        self.image = image
        self.reference = lm
        self.shape = image.shape[:2]
        if person is not None and person.shape != self.shape:
            person = cv2.resize(person, self.shape[::-1], interpolation=cv2.INTER_LINEAR)
        self._extras = _build_extras(lm, self.shape, person)
        source = np.vstack([lm[:, :2], self._extras.points[:, :2]])
        triangles = Delaunay(source).simplices
        self._map = TriangleWarpMap(triangles, source, self.shape)
        self._lids = EyelidRig(lm)
        self._mouth = MouthPainter(image, lm)

    def control_points(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(N, 2) target positions of all control points, their (N,) depth and the head's
        scale relative to the reference."""
        target = np.asarray(target, dtype=np.float64)
        if target.shape != (ids.NUM_LANDMARKS, 3):
            raise ValueError(f"expected ({ids.NUM_LANDMARKS}, 3) landmarks, got {target.shape}")
        if not np.isfinite(target).all():
            raise ValueError("target landmarks contain NaN or infinity")
        ex = self._extras
        mesh = self._lids.adjust(target[:, :2])
        rigid = list(ids.RIGID)
        head = fit_head_motion(self.reference[rigid], target[rigid])
        residual = mesh - head.apply(self.reference)[:, :2]
        moved = head.apply(ex.points)[:, :2]
        pts = ex.points[:, :2] + ex.rigid[:, None] * (moved - ex.points[:, :2])
        pts += ex.local[:, None] * residual[ex.anchor]
        fixed = ex.rigid == 0
        pts[~fixed] = _clip(pts[~fixed], self.shape)
        depth = np.concatenate([target[:, 2], np.full(len(pts), target[:, 2].max() + 1.0)])
        return np.vstack([mesh, pts]), depth, head.scale

    def render_map(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, Overlay | None]:
        """Full-size float32 backward maps (map_x, map_y) for cv2.remap of the reference, and
        the mouth interior `render` paints over the warp (`MouthPainter.interior`, or None):
        for callers that compose the maps with a further warp (animate's body mode)."""
        h, w = self.shape
        map_y, map_x = np.mgrid[0:h, 0:w].astype(np.float32)
        points, depth, scale = self.control_points(target)
        found = self._map(points, depth)
        if found is not None:
            roi, mx, my = found
            map_x[roi], map_y[roi] = mx, my
        mouth = self._mouth.interior(self.shape, points[: ids.NUM_LANDMARKS], scale)
        return map_x, map_y, mouth

    def render(self, target: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8: the reference warped so its landmarks land on `target`."""
        out = self.image.copy()
        points, depth, scale = self.control_points(target)
        found = self._map(points, depth)
        if found is not None:
            roi, mx, my = found
            out[roi] = cv2.remap(
                self.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        self._mouth.paint(out, points[: ids.NUM_LANDMARKS], scale)
        return out
