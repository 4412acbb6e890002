"""Pose-dependent shading for synthetic ground truth: an effect a warp cannot produce.

A warp carries the reference's shading to every frame. A real face under a fixed light
changes brightness as it turns or opens its jaw (Lambertian: ambient + n . l). Ground truth
frames are the warped photo times the ratio of the target's shading to the source photo's,
computed per face-mesh vertex from the 3D landmarks, interpolated across the face and fading
to 1 just outside it (hair and background are not relit). The ratio is a function of the two
geometries only, so a renderer given the normal maps of both (`render.normals`) can learn it.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

from avatarvid.perception import landmark_ids as ids
from avatarvid.warp.normals import FACE_POINTS, FaceNormals

# Towards the light, in image axes (x right, y down, z away from the camera): a key light
# above and to the left of the camera, as in most portrait lighting.
LIGHT = np.array([-0.55, -0.45, -0.7]) / np.linalg.norm([-0.55, -0.45, -0.7])
AMBIENT = 0.3
FADE_RING = 1.12  # the ratio reaches 1 this far out, relative to the face oval's radius
RATIO_RANGE = (0.5, 2.0)


def lambert(normals: np.ndarray) -> np.ndarray:
    """Brightness of unit `normals` (..., 3) under the key light: ambient + diffuse."""
    return AMBIENT + (1 - AMBIENT) * np.clip(normals @ LIGHT, 0, 1)


class Relighter:
    """Shading ratios of target geometries against one source photo's geometry."""

    def __init__(self, source: np.ndarray, shape: tuple[int, int]):
        self.normals = FaceNormals(source)
        self.shape = shape
        self.source_shading = self.shading(source)

    def shading(self, points: np.ndarray) -> np.ndarray:
        """(468,) Lambertian brightness of a (478+, 3) geometry."""
        return lambert(self.normals.vertex_normals(points))

    def ratio_map(self, target: np.ndarray) -> np.ndarray:
        """(H, W) float32 brightness ratio target / source over the target image."""
        pts = np.asarray(target, dtype=np.float64)[:FACE_POINTS]
        ratio = np.clip(self.shading(pts) / self.source_shading, *RATIO_RANGE)
        oval = pts[list(ids.FACE_OVAL), :2]
        centre = oval.mean(axis=0)
        ring = centre + FADE_RING * (oval - centre)
        interp = LinearNDInterpolator(
            np.concatenate([pts[:, :2], ring]), np.concatenate([ratio, np.ones(len(ring))]), 1.0
        )
        h, w = self.shape
        ys, xs = np.mgrid[0:h, 0:w] + 0.5
        out = interp(xs, ys).astype(np.float32)
        return cv2.GaussianBlur(out, (0, 0), 0.01 * max(h, w))

    def apply(self, image: np.ndarray, target: np.ndarray) -> np.ndarray:
        """`image` (rendered at `target`'s geometry) relit to that geometry, uint8."""
        lit = image.astype(np.float32) * self.ratio_map(target)[..., None]
        return np.clip(lit, 0, 255).round().astype(np.uint8)
