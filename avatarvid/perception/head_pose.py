"""Head orientation from landmarks: a rotation matrix and its Euler angles.

Head axes, as columns of the rotation (image frame as in `avatarvid.geometry`): x from the
subject's right eye to their left eye, y from forehead (10) to chin (152) made orthogonal to
x, z = x cross y (from the face towards the back of the head). In mediapipe's canonical face
model the eye line and the forehead-chin line lie in the image plane to within a degree, so a
frontal upright face gives the identity and all angles ~0. Angles follow the one convention
of `avatarvid.geometry` (the rig's), so a measured pose and a motion residual compare directly.
"""

from __future__ import annotations

import numpy as np

from avatarvid.geometry import euler_angles
from avatarvid.perception.landmark_ids import (
    CHIN,
    FOREHEAD_TOP,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye centres as corner midpoints: unlike irises they ignore gaze."""
    lm = np.asarray(landmarks, dtype=np.float64)
    right = (lm[RIGHT_EYE_OUTER] + lm[RIGHT_EYE_INNER]) / 2
    left = (lm[LEFT_EYE_OUTER] + lm[LEFT_EYE_INNER]) / 2
    return right, left


def head_rotation(landmarks: np.ndarray) -> np.ndarray:
    """(3, 3) orthonormal matrix whose columns are the head axes in image coordinates."""
    right, left = eye_centres(landmarks)
    lm = np.asarray(landmarks, dtype=np.float64)
    x_axis = left - right
    x_axis /= np.linalg.norm(x_axis)
    y_axis = lm[CHIN] - lm[FOREHEAD_TOP]
    y_axis -= np.dot(y_axis, x_axis) * x_axis
    y_axis /= np.linalg.norm(y_axis)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)


def head_pose_angles(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(pitch, yaw, roll) of the head in degrees; signs as in `avatarvid.geometry`."""
    pitch, yaw, roll = np.degrees(euler_angles(head_rotation(landmarks)))
    return float(pitch), float(yaw), float(roll)
