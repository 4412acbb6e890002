"""Surface-normal control maps of the face mesh: the 3D cue a landmark drawing lacks.

A landmark drawing shows where the features are, not which way the skin between them faces,
and that is what shading depends on. Normal maps (as the SMPL normal guidance of Champ) of
the target, and of the reference's surface at the target's positions, make a change of
shading between reference and target a per-pixel function the renderer can learn.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import LinearNDInterpolator
from scipy.spatial import Delaunay

from avatarvid.warp.controls import box_affine

FACE_POINTS = 468  # the mesh without the iris points


class FaceNormals:
    """Vertex normals of one face's mesh (triangulated once, on the reference) in any pose."""

    def __init__(self, reference: np.ndarray):
        ref = np.asarray(reference, dtype=np.float64)[:FACE_POINTS]
        self.triangles = Delaunay(ref[:, :2]).simplices
        # Landmarks without depth give no rotation: every normal then faces the camera.
        self.flat = ref.shape[1] < 3 or not np.any(ref[:, 2])
        self._sign = 1.0
        if not self.flat:
            self._sign = -1.0 if self.vertex_normals(ref)[:, 2].sum() > 0 else 1.0

    def vertex_normals(self, points: np.ndarray) -> np.ndarray:
        """(468, 3) unit normals (x right, y down, z away from the camera), facing the camera:
        area-weighted sums of the normals of the triangles around each vertex."""
        pts = np.asarray(points, dtype=np.float64)[:FACE_POINTS]
        if self.flat or pts.shape[1] < 3:
            return np.tile([0.0, 0.0, -1.0], (FACE_POINTS, 1))
        a, b, c = (pts[self.triangles[:, i]] for i in range(3))
        tri = np.cross(b - a, c - a)
        normals = np.zeros_like(pts)
        for i in range(3):
            np.add.at(normals, self.triangles[:, i], tri)
        normals *= self._sign
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)

    def normal_map(
        self, positions: np.ndarray, normals: np.ndarray, box: np.ndarray, size: int
    ) -> np.ndarray:
        """(size, size, C) uint8: `normals` (468, C), one or more sets of 3 side by side, drawn
        at the mesh `positions` (478+, 2+) image px in the model frame of `box`; (n + 1) *
        127.5 on the face, 0 elsewhere."""
        m = box_affine(box, size)
        p = np.asarray(positions, dtype=np.float64)[:FACE_POINTS, :2] @ m[:, :2].T + m[:, 2]
        ys, xs = np.mgrid[0:size, 0:size] + 0.5
        drawn = LinearNDInterpolator(p, (np.asarray(normals) + 1.0) * 127.5, fill_value=0.0)
        return np.round(drawn(xs, ys)).clip(0, 255).astype(np.uint8)

    def target_and_reference_maps(
        self, target: np.ndarray, reference_normals: np.ndarray, box: np.ndarray, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Normal maps of `target` and of the reference's surface at the target's positions
        (the same points, turned as they were in the reference), drawn in one pass."""
        both = np.hstack([self.vertex_normals(target), reference_normals])
        drawn = self.normal_map(target, both, box, size)
        return drawn[..., :3], drawn[..., 3:]


def decode_normal_map(drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normals (..., 3) and the face mask (...) of uint8 maps drawn by `FaceNormals.normal_map`."""
    return drawn.astype(np.float32) / 127.5 - 1.0, drawn.any(axis=-1)
