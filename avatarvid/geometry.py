"""Geometry written once: the similarity fit and the Euler convention every layer uses.

Image frame: x right, y down, z into the image (away from the camera); right-handed.

Euler angles are (pitch, yaw, roll) in radians about the image's x, y and z axes, composed
R = Rz(roll) @ Ry(yaw) @ Rx(pitch), i.e. scipy's extrinsic sequence `EULER_ORDER` = "xyz".
It is the order of the motion schema's head_pitch / head_yaw / head_roll channels, so the
residuals the shipped motion model was trained on keep their meaning. Signs:
  pitch > 0: the face tilts down (chin towards the chest);
  yaw   > 0: the face turns towards the image's left (the subject's own right);
  roll  > 0: the head tilts clockwise in the image (towards the subject's left shoulder).

This module imports only numpy and scipy, so media, perception, motion, warp, stages and
evaluation can all share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

EULER_ORDER = "xyz"


def rotation_matrix(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations from (...)-shaped angles in radians (see the module docstring)."""
    angles = np.stack(np.broadcast_arrays(pitch, yaw, roll), axis=-1).astype(np.float64)
    matrices = Rotation.from_euler(EULER_ORDER, angles.reshape(-1, 3)).as_matrix()
    return matrices.reshape(*angles.shape[:-1], 3, 3)


def euler_angles(rotation: np.ndarray) -> np.ndarray:
    """(..., 3) (pitch, yaw, roll) in radians of (..., 3, 3) rotations; yaw in [-pi/2, pi/2]."""
    rotation = np.asarray(rotation, dtype=np.float64)
    angles = Rotation.from_matrix(rotation.reshape(-1, 3, 3)).as_euler(EULER_ORDER)
    return angles.reshape(*rotation.shape[:-2], 3)


def rotate_2d(vectors: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """(..., 2) vectors turned by `angle` radians (positive: x towards y, clockwise on screen)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


@dataclass(frozen=True)
class Similarity:
    """x -> scale * rotation @ (x - source_mean) + target_mean, for (K, D) points, D = 2 or 3."""

    scale: float
    rotation: np.ndarray  # (D, D), det +1
    source_mean: np.ndarray  # (D,)
    target_mean: np.ndarray  # (D,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(K, D) -> (K, D)."""
        return self.scale * (points - self.source_mean) @ self.rotation.T + self.target_mean

    def matrix(self) -> np.ndarray:
        """(D, D + 1) affine [A | t] with A = scale * rotation, e.g. for cv2.warpAffine in 2D."""
        linear = self.scale * self.rotation
        return np.hstack([linear, (self.target_mean - linear @ self.source_mean)[:, None]])


def fit_similarity(source: np.ndarray, target: np.ndarray, scale: bool = True) -> Similarity:
    """Least-squares rotation (no reflection), uniform scale and shift taking source onto target.

    Umeyama's closed form on (K, D) corresponding points. With `scale=False` the fit is rigid.
    A source collapsed to one point has no defined scale: it gets 1.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    ms, mt = source.mean(axis=0), target.mean(axis=0)
    a, b = source - ms, target - mt
    u, sv, vt = np.linalg.svd(b.T @ a)
    fix = np.ones(source.shape[1])
    fix[-1] = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag(fix) @ vt
    var = np.sum(a**2)
    factor = float(np.sum(sv * fix) / var) if scale and var > 1e-12 else 1.0
    return Similarity(factor, rotation, ms, mt)
