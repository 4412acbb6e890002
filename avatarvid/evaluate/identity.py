"""Identity proxy: how much a video frame's face still looks like the reference photo.

Both faces are aligned to a canonical 112x112 grayscale crop by a similarity transform
(eye centres + mouth centre onto ArcFace's layout) and compared with SSIM. This is a pixel
similarity, not face recognition: it drops when the rendered face drifts, blurs or changes
texture, but also (mildly) with lighting, expression and head turns, and it cannot tell two
similar-looking people apart. Use it to compare renders of the same photo, not as a score.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from avatarvid.geometry import fit_similarity
from avatarvid.perception.head_pose import eye_centres
from avatarvid.perception.landmark_ids import MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT

CROP_SIZE = 112
# Image-left eye (the subject's right), image-right eye, mouth centre: ArcFace's 112x112 layout.
_TEMPLATE = np.array([[38.29, 51.70], [73.53, 51.50], [56.14, 92.28]])


def aligned_face_crop(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face as a canonical CROP_SIZE x CROP_SIZE uint8 grayscale crop."""
    right, left = eye_centres(landmarks)
    mouth = (landmarks[MOUTH_CORNER_RIGHT] + landmarks[MOUTH_CORNER_LEFT]) / 2
    fit = fit_similarity(np.stack([right[:2], left[:2], mouth[:2]]), _TEMPLATE)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if fit.scale < 1:  # the warp samples bilinearly: low-pass first so big faces do not alias
        gray = cv2.GaussianBlur(gray, (0, 0), 0.5 / fit.scale)
    return cv2.warpAffine(
        gray,
        fit.matrix(),
        (CROP_SIZE, CROP_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def crop_sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of an aligned crop: fine detail at a fixed face scale, so
    renders of different sizes compare (higher = sharper; noise also raises it)."""
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def crop_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two aligned crops, clipped to [0, 1] (1 = identical)."""
    return float(np.clip(structural_similarity(a, b, data_range=255), 0.0, 1.0))
