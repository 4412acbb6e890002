"""Body pose (mediapipe BlazePose, 33 landmarks with visibility) and person segmentation.

Contract: a pose is a (33, 3) float32 array (x, y in pixels of the image it was found on,
visibility in [0, 1]); "left"/"right" are the subject's, as in mediapipe's landmark names.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatarvid.perception.mp_runtime import (
    MediapipeGraph,
    check_rgb,
    mediapipe_solutions,
    silenced_stderr,
)

NUM_POSE = 33
NOSE = 0
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
# The joints pose-following is scored on: nose, arms and legs.
SCORED = (NOSE, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST,
          L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)  # fmt: skip
TORSO = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)
VISIBLE = 0.5  # a landmark below this visibility is treated as not seen
# (left, right) landmark groups: arms, legs, and eyes, ears and mouth corners.
SIDES = (
    ((11, 13, 15, 17, 19, 21), (12, 14, 16, 18, 20, 22)),
    ((23, 25, 27, 29, 31), (24, 26, 28, 30, 32)),
    ((1, 2, 3, 7, 9), (4, 5, 6, 8, 10)),
)
# MIRROR[i]: the landmark on the other side of landmark i (itself on the midline).
MIRROR = list(range(NUM_POSE))
for _left, _right in SIDES:
    for _l, _r in zip(_left, _right, strict=True):
        MIRROR[_l], MIRROR[_r] = _r, _l
# Frames are shrunk to this long side before the pose model (which works at 256 px anyway).
_MAX_SIDE = 640


def is_visible(pose: np.ndarray, shape: tuple[int, int], joints: tuple[int, ...]) -> bool:
    """Whether all `joints` are seen with confidence and lie inside the image."""
    h, w = shape
    p = pose[list(joints)]
    inside = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
    return bool(np.all((p[:, 2] >= VISIBLE) & inside))


def torso_centre_and_size(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre of shoulders and hips, and the mid-shoulder to mid-hip distance (the unit that
    pose comparisons are normalised by)."""
    shoulders = (points[L_SHOULDER, :2] + points[R_SHOULDER, :2]) / 2
    hips = (points[L_HIP, :2] + points[R_HIP, :2]) / 2
    return (shoulders + hips) / 2, float(np.linalg.norm(shoulders - hips))


def _shrink(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    scale = min(1.0, _MAX_SIDE / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, 1.0
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


class PoseTracker(MediapipeGraph):
    """mediapipe Pose. static_image_mode=False tracks through consecutive video frames."""

    def __init__(self, static_image_mode: bool = True, model_complexity: int = 1) -> None:
        super().__init__(
            lambda solutions: solutions.pose.Pose(
                static_image_mode=static_image_mode,
                model_complexity=model_complexity,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            )
        )
        # (33,) relative depth of the last pose found (mediapipe's z, hips at 0, smaller is
        # nearer the camera) in torso lengths: which limb passes in front of the body.
        self.last_depth: np.ndarray | None = None
        self._warm = False

    def detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """(33, 3) pose of the most prominent person in `rgb`, or None."""
        small, scale = _shrink(check_rgb(rgb))
        if self._warm:
            result = self._graph.process(small)
        else:
            with silenced_stderr():  # the first pose runs the landmark model, which logs
                result = self._graph.process(small)
        if result.pose_landmarks is None:
            return None
        self._warm = True
        h, w = small.shape[:2]
        found = np.array(
            [(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark],
            dtype=np.float32,
        )
        z = np.array([p.z * w for p in result.pose_landmarks.landmark], np.float32)
        self.last_depth = z / max(torso_centre_and_size(found)[1], 1e-6)
        found[:, :2] /= scale
        return found


def segment_person(rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 person probability from mediapipe selfie segmentation (general model)."""
    rgb = check_rgb(rgb)
    solutions = mediapipe_solutions()
    with (
        silenced_stderr(),
        solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg,
    ):
        mask = seg.process(rgb).segmentation_mask
    return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
