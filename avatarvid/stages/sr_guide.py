"""The SR guide for any video of a face: the reference photo warped onto each frame's face.

The reference is placed once onto the output canvas by a similarity transform (its face onto
the first tracked face), then warped per frame with the same piecewise-affine warp the
renderer uses, onto landmarks tracked on the bicubic-upscaled frame. The mask is the face
region (convex hull of the mesh, shrunk a little): outside it the reference shows another
background, which would be wrong detail.

The mesh warp is only good to a pixel or two and cannot follow an expression the mesh misses,
while SR detail lives at one pixel: a dense optical flow (OpenCV DIS) from the upscaled frame
to the warped guide, blurred to the same resolution, then refines it. On franck.mp4 with a
reference 30 s away this raised the correlation of the guide's fine detail with the true
frame's inside the face from 0.30 to 0.40 at x2 (0.26 to 0.31 at x4), ~30 ms a 360x288 frame.

Where the warped guide still disagrees with the frame at the resolution both share (another
expression, an occlusion, a flow that failed), its detail is wrong detail: the mask is weighted
by a confidence exp(-(d / CONFIDENCE_TAU)^2) of the local mean grey difference d between the
upscaled frame and the guide blurred the same way. Chosen on the validation face (franck's
tail, a reference 30 s away; face PSNR-Y guided - unguided): x2 -0.016 dB without it, +0.037
/ +0.075 / +0.083 / +0.069 / +0.037 at tau 4 / 8 / 12 / 16 / 24; x4 +0.12 -> +0.39 at 12.
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
CONFIDENCE_TAU = 12.0  # grey levels of local disagreement at which the guide's weight is 1/e
CONFIDENCE_SIGMA = 1.0  # low-res pixels over which the disagreement is averaged


class ReferenceGuide:
    """Per-frame (guide, mask) at output resolution, or (None, None) without a face; the
    mask is the face region weighted by the guide's confidence, in [0, 1]."""

    def __init__(
        self,
        reference: np.ndarray,
        source: str | Path | None = None,
        scale: int = 2,
        refine: bool = True,
    ):
        """`scale`: how much the frames were upscaled (the guide is blurred to match before
        the flow refinement); `refine`: refine the mesh warp by optical flow."""
        self.reference, self.scale = reference, scale
        self._flow = (
            cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if refine else None
        )
        self.reference_landmarks = detect_reference_face(reference, source=source).landmarks
        self._tracker = FaceMeshTracker(static_image_mode=False, max_faces=1)
        self._warper: FaceWarper | None = None
        # the last frame's face region (unweighted, 0/1): where studies score the guide's effect
        self.region: np.ndarray | None = None

    def __call__(self, upscaled: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        faces = self._tracker.detect(upscaled)
        if not faces:
            self.region = None
            return None, None
        target = faces[0].landmarks
        if self._warper is None or self._warper.shape != upscaled.shape[:2]:
            self._warper = self._place(target, upscaled.shape[:2])
        guide = self._warper.render(target)
        frame_grey = _grey(upscaled)
        if self._flow is not None:
            guide = self._refine(frame_grey, guide)
        self.region = self._mask(target, upscaled.shape[:2])
        return guide, self.region * self._confidence(frame_grey, guide)

    def _blurred(self, image: np.ndarray) -> np.ndarray:
        """`image` through the frames' degradation: area-downscaled, bicubic-upscaled."""
        h, w = image.shape[:2]
        low = (max(1, w // self.scale), max(1, h // self.scale))
        return cv2.resize(
            cv2.resize(image, low, interpolation=cv2.INTER_AREA), (w, h),
            interpolation=cv2.INTER_CUBIC,
        )  # fmt: skip

    def _refine(self, frame_grey: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """The guide resampled along the flow that maps the frame (grey) onto it (same blur)."""
        h, w = guide.shape[:2]
        flow = self._flow.calc(frame_grey, _grey(self._blurred(guide)), None)
        flow += np.mgrid[0:h, 0:w][::-1].transpose(1, 2, 0).astype(np.float32)
        return cv2.remap(guide, flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def _confidence(self, frame_grey: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """exp(-(d / tau)^2) of the local mean grey disagreement d of guide and frame."""
        diff = np.abs(
            frame_grey.astype(np.float32) - _grey(self._blurred(guide)).astype(np.float32)
        )
        diff = cv2.GaussianBlur(diff, (0, 0), CONFIDENCE_SIGMA * self.scale)
        return np.exp(-np.square(diff / CONFIDENCE_TAU))

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


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
