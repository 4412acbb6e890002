"""Head orientation from landmarks: a rotation matrix and yaw/pitch/roll angles.

Image frame: x right, y down, z into the image (away from the camera); right-handed.
Head axes, as columns of the rotation: x from the subject's right eye to their left eye,
y from forehead (10) to chin (152) made orthogonal to x, z = x cross y (from the face
towards the back of the head). In mediapipe's canonical face model the eye line and the
forehead-chin line lie in the image plane to within a degree, so a frontal upright face
gives the identity and all angles ~0.

Angles decompose R = Ry(yaw) @ Rx(pitch) @ Rz(roll) (rotations about the image axes):
  yaw   > 0: the face turns towards the image's left (the subject's own right);
  pitch > 0: the face tilts down (chin towards the chest);
  roll  > 0: the head tilts clockwise in the image (towards the subject's left shoulder).
"""

from __future__ import annotations

import numpy as np

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


def rotation_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of R = Ry(yaw) @ Rx(pitch) @ Rz(roll)."""
    r = rotation
    pitch = np.arcsin(np.clip(-r[1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[0, 2], r[2, 2])
    roll = np.arctan2(r[1, 0], r[1, 1])
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Ry(yaw) @ Rx(pitch) @ Rz(roll) from degrees: the inverse of rotation_angles()."""
    a, b, c = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def head_pose_angles(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) of the head in degrees; see the module docstring for signs."""
    return rotation_angles(head_rotation(landmarks))
