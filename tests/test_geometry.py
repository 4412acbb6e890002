"""The one similarity fit and the one Euler convention, and the head pose built on them."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarvid import geometry
from avatarvid.geometry import (
    euler_angles,
    fit_similarity,
    rotate_2d,
    rotation_matrix,
)
from avatarvid.perception.head_pose import head_pose_angles, head_rotation

# Measured on the astronaut before geometry.py existed (commit 602c7f7).
ASTRONAUT_ROTATION = np.array(
    [
        [0.9984794, -0.05201347, 0.01826186],
        [0.05434738, 0.98427811, -0.16805641],
        [-0.00923355, 0.16879334, 0.98560821],
    ]
)
# What the old head_pose_angles returned: (yaw, pitch, roll) of R = Ry @ Rx @ Rz, degrees.
ASTRONAUT_OLD_YAW_PITCH_ROLL = (1.061484191069461, 9.674833693784612, 3.1604044679728047)
# The same rotation in the one convention: (pitch, yaw, roll) of R = Rz @ Ry @ Rx, degrees.
ASTRONAUT_PITCH_YAW_ROLL = (9.71808729, 0.52905084, 3.11554351)


@pytest.mark.parametrize("dim", [2, 3])
def test_fit_recovers_a_known_similarity_from_noisy_points(dim: int) -> None:
    rng = np.random.default_rng(dim)
    rotation = rotation_matrix(0.3, -0.5, 0.7) if dim == 3 else rotation_matrix(0, 0, 0.7)[:2, :2]
    scale, shift = 1.8, rng.uniform(-50, 50, dim)
    source = rng.uniform(0, 100, (200, dim))
    target = scale * source @ rotation.T + shift + rng.normal(0, 0.5, (200, dim))
    fit = fit_similarity(source, target)
    np.testing.assert_allclose(fit.rotation, rotation, atol=2e-3)
    assert fit.scale == pytest.approx(scale, rel=2e-3)
    affine = fit.matrix()
    np.testing.assert_allclose(affine[:, :dim], scale * rotation, atol=5e-3)
    np.testing.assert_allclose(affine[:, dim], shift, atol=0.5)
    np.testing.assert_allclose(source @ affine[:, :dim].T + affine[:, dim], fit.apply(source))
    assert np.sqrt(((fit.apply(source) - target) ** 2).sum(1).mean()) < 0.5 * np.sqrt(dim)


def test_fit_never_returns_a_reflection_and_rigid_fit_keeps_scale_one() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(30, 3))
    mirrored = source * [-1.0, 1.0, 1.0] * 2.0
    fit = fit_similarity(source, mirrored)
    assert np.linalg.det(fit.rotation) == pytest.approx(1.0)
    assert fit_similarity(source, 3.0 * source, scale=False).scale == 1.0
    assert fit_similarity(np.ones((5, 2)), rng.normal(size=(5, 2))).scale == 1.0


def test_euler_round_trip_in_the_named_order() -> None:
    angles = np.array([[0.2, -0.35, 0.1], [-0.4, 0.6, -0.25], [0.0, 0.0, 0.0]])
    matrices = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    assert matrices.shape == (3, 3, 3)
    np.testing.assert_allclose(euler_angles(matrices), angles, atol=1e-12)
    pitch, yaw, roll = angles[0]
    rx = Rotation.from_rotvec([pitch, 0, 0]).as_matrix()
    ry = Rotation.from_rotvec([0, yaw, 0]).as_matrix()
    rz = Rotation.from_rotvec([0, 0, roll]).as_matrix()
    np.testing.assert_allclose(matrices[0], rz @ ry @ rx, atol=1e-12)


def test_signs_in_image_coordinates() -> None:
    """x right, y down, z into the image: a nose pointing at the camera is (0, 0, -1)."""
    nose = np.array([0.0, 0.0, -1.0])
    assert (rotation_matrix(0, 0.3, 0) @ nose)[0] < 0  # yaw > 0: towards the image's left
    assert (rotation_matrix(0.3, 0, 0) @ nose)[1] > 0  # pitch > 0: the face tilts down
    right_eye = np.array([-1.0, 0.0, 0.0])  # the subject's right eye is on the image's left
    assert (rotation_matrix(0, 0, 0.3) @ right_eye)[1] < 0  # roll > 0: clockwise on screen
    np.testing.assert_allclose(rotate_2d(np.array([1.0, 0.0]), np.pi / 2), [0.0, 1.0], atol=1e-12)


def test_astronaut_head_pose_unchanged(face) -> None:
    rotation = head_rotation(face.landmarks)
    np.testing.assert_allclose(rotation, ASTRONAUT_ROTATION, atol=1e-6)
    angles = head_pose_angles(face.landmarks)
    assert angles == pytest.approx(ASTRONAUT_PITCH_YAW_ROLL, abs=1e-4)
    # The old numbers are the same rotation, decomposed in the old order.
    yaw, pitch, roll = ASTRONAUT_OLD_YAW_PITCH_ROLL
    old = Rotation.from_euler("YXZ", [yaw, pitch, roll], degrees=True).as_matrix()
    np.testing.assert_allclose(rotation_matrix(*np.radians(angles)), old, atol=1e-6)


def test_geometry_is_a_base_module() -> None:
    """Every layer may import it, so it imports nothing of avatarvid, only numpy and scipy."""
    tree = ast.parse(inspect.getsource(geometry))
    roots = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert roots <= {"__future__", "dataclasses", "numpy", "scipy"}
