"""The SR guide for any video of a face: the reference photo warped onto each frame's face.

The reference is placed once onto the output canvas by a similarity transform (its face onto
the first tracked face), then warped per frame with the same piecewise-affine warp the
renderer uses, onto landmarks tracked on the bicubic-upscaled frame. The mask is the face
region (convex hull of the mesh, shrunk a little): outside it the reference shows another
background, which would be wrong detail.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avatarvid.geometry import fit_similarity
from avatarvid.perception.face_mesh import FaceMeshTracker, detect_reference_face
from avatarvid.perception.framing import apply_affine
from avatarvid.perception.landmark_ids import NUM_MESH
from avatarvid.warp.face import FaceWarper

_MASK_ERODE = 0.04  # of the face width: the hull edge is where warps are least exact


class ReferenceGuide:
    """Per-frame (guide, mask) at output resolution, or (None, None) without a face."""

    def __init__(self, reference: np.ndarray, source: str | Path | None = None):
        self.reference = reference
        self.reference_landmarks = detect_reference_face(reference, source=source).landmarks
        self._tracker = FaceMeshTracker(static_image_mode=False, max_faces=1)
        self._warper: FaceWarper | None = None

    def __call__(self, upscaled: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        faces = self._tracker.detect(upscaled)
        if not faces:
            return None, None
        target = faces[0].landmarks
        if self._warper is None or self._warper.shape != upscaled.shape[:2]:
            self._warper = self._place(target, upscaled.shape[:2])
        guide = self._warper.render(target)
        return guide, self._mask(target, upscaled.shape[:2])

    def _place(self, target: np.ndarray, shape: tuple[int, int]) -> FaceWarper:
        src = self.reference_landmarks
        affine = fit_similarity(src[:NUM_MESH, :2], target[:NUM_MESH, :2]).matrix()
        h, w = shape
        placed = cv2.warpAffine(
            self.reference, affine, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
        )
        return FaceWarper(placed, apply_affine(src, affine))

    @staticmethod
    def _mask(target: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, np.uint8)
        hull = cv2.convexHull(target[:NUM_MESH, :2].astype(np.float32)).astype(np.int32)
        cv2.fillConvexPoly(mask, hull, 1)
        width = float(np.ptp(target[:NUM_MESH, 0]))
        k = max(1, int(_MASK_ERODE * width)) * 2 + 1
        return cv2.erode(mask, np.ones((k, k), np.uint8)).astype(np.float32)

    def close(self) -> None:
        self._tracker.close()

    def __enter__(self) -> ReferenceGuide:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
