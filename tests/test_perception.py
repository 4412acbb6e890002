"""Face mesh, reference-face selection, head pose and framing on real photos."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from avatarvid.errors import InputError, NoFaceError
from avatarvid.geometry import rotation_matrix
from avatarvid.perception.face_mesh import Face, FaceMeshTracker, detect_reference_face
from avatarvid.perception.framing import apply_affine, frame_reference, invert_affine
from avatarvid.perception.head_pose import head_pose_angles, head_rotation
from avatarvid.perception.landmark_ids import CHIN, FOREHEAD_TOP, LEFT_IRIS, RIGHT_IRIS


def _detect_one(rgb: np.ndarray) -> Face:
    with FaceMeshTracker() as tracker:
        faces = tracker.detect(rgb)
    assert len(faces) == 1
    return faces[0]


def _xy_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean())


def test_reference_face_landmarks(face: Face) -> None:
    lm = face.landmarks
    assert lm.shape == (478, 3) and lm.dtype == np.float32
    assert lm[:, 0].min() > 170 and lm[:, 0].max() < 280
    assert lm[:, 1].min() > 55 and lm[:, 1].max() < 195
    assert face.bbox == pytest.approx((*lm[:, :2].min(0), *lm[:, :2].max(0)))
    assert lm[FOREHEAD_TOP, 1] < lm[CHIN, 1]
    # The subject's right eye is on the image's left.
    assert lm[RIGHT_IRIS[0], 0] < lm[LEFT_IRIS[0], 0]


def test_tracker_returns_largest_face_first(astronaut: np.ndarray, face: Face) -> None:
    crop, _ = frame_reference(astronaut, face, "face", 256)
    image = np.full((256, 416, 3), 200, np.uint8)
    image[48:208, :160] = cv2.resize(crop, (160, 160), interpolation=cv2.INTER_AREA)
    image[:, 160:] = crop
    with FaceMeshTracker(max_faces=3) as tracker:
        faces = tracker.detect(image)
    assert len(faces) == 2 and faces[0].area > faces[1].area
    assert faces[0].center[0] > 160 > faces[1].center[0]


def test_two_faces_largest_or_face_index(astronaut: np.ndarray) -> None:
    # Whole-photo copies: the faces are too small for the mesh's own detector, so this also
    # exercises the full-range detector fallback.
    image = np.full((400, 720, 3), 200, np.uint8)
    image[:, :400] = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)
    image[70:330, 440:700] = cv2.resize(astronaut, (260, 260), interpolation=cv2.INTER_AREA)

    with pytest.warns(UserWarning, match=r"2 faces.*--face-index"):
        largest = detect_reference_face(image)
    assert largest.center[0] < 400
    smaller = detect_reference_face(image, face_index=1)
    assert smaller.center[0] > 440
    assert smaller.area < largest.area
    with pytest.raises(InputError, match="face-index 2"):
        detect_reference_face(image, face_index=2)


@pytest.mark.parametrize("kind", ["coffee", "gradient"])
def test_no_face(kind: str) -> None:
    if kind == "coffee":
        image = data.coffee()
    else:
        ramp = np.linspace(0, 255, 480, dtype=np.float32)
        image = np.repeat(np.add.outer(ramp[:360] / 2, ramp / 2)[..., None], 3, 2).astype(np.uint8)
    with pytest.raises(NoFaceError, match="no face found"):
        detect_reference_face(image)


def test_small_face_in_large_photo_uses_detector_fallback(
    astronaut: np.ndarray, face: Face
) -> None:
    canvas = np.full((1600, 1600, 3), 120, np.uint8)
    canvas[1100:1356, 900:1156] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    with FaceMeshTracker(max_faces=5) as tracker:
        assert tracker.detect(canvas) == []  # the mesh alone misses it

    found = detect_reference_face(canvas)
    expected = face.landmarks[:, :2] * 0.5 + np.array([900, 1100])
    assert _xy_error(found.landmarks, expected) < 3.0


def test_framing_face_maps_landmarks(astronaut: np.ndarray, face: Face) -> None:
    framed, affine = frame_reference(astronaut, face, "face", 256)
    assert framed.shape == (256, 256, 3) and framed.dtype == np.uint8
    mapped = apply_affine(face.landmarks, affine)
    # Face about 1 / 2.6 of the frame, centred a little above the middle.
    height = mapped[:, 1].max() - mapped[:, 1].min()
    assert 256 / 2.6 * 0.9 < height < 256 / 2.6 * 1.1
    assert 0.3 * 256 < mapped[:, 1].mean() < 0.5 * 256
    assert _xy_error(_detect_one(framed).landmarks, mapped) < 2.5


@pytest.mark.parametrize(
    "top, left, bottom, right",
    [(40, 150, 512, 512), (30, 160, 300, 350)],  # face near the corner; a tight headshot
)
def test_framing_stays_inside_the_photo(
    astronaut: np.ndarray, face: Face, top: int, left: int, bottom: int, right: int
) -> None:
    """Nothing is invented round a photo too tight for the full crop (reflection filled a
    headshot's frame with mirrored faces): the square shrinks and shifts into the photo."""
    photo = np.ascontiguousarray(astronaut[top:bottom, left:right])
    shifted = Face.from_landmarks(face.landmarks - np.array([left, top, 0], np.float32))
    framed, affine = frame_reference(photo, shifted, "face", 320)
    assert framed.shape == (320, 320, 3)
    corners = apply_affine(np.array([[0, 0], [320, 320]], np.float32), invert_affine(affine))
    h, w = photo.shape[:2]
    assert corners.min() >= 0 and corners[1, 0] <= w and corners[1, 1] <= h
    mapped = apply_affine(shifted.landmarks, affine)
    assert mapped[:, :2].min() >= 0 and mapped[:, :2].max() <= 320
    assert _xy_error(_detect_one(framed).landmarks, mapped) < 3


def test_framing_full(astronaut: np.ndarray, face: Face) -> None:
    wide = np.ascontiguousarray(astronaut[100:441])  # 512 x 341
    shifted = Face.from_landmarks(face.landmarks - np.array([0, 100, 0], np.float32))
    framed, affine = frame_reference(wide, shifted, "full", 400)
    assert framed.shape == (266, 400, 3)
    mapped = apply_affine(shifted.landmarks, affine)
    assert _xy_error(_detect_one(framed).landmarks, mapped) < 2.5


@pytest.mark.parametrize("size", [62, 255, 2050])
def test_framing_rejects_bad_sizes(astronaut: np.ndarray, face: Face, size: int) -> None:
    with pytest.raises(InputError, match="even number"):
        frame_reference(astronaut, face, "face", size)


def test_framing_rejects_unknown_mode(astronaut: np.ndarray, face: Face) -> None:
    with pytest.raises(InputError, match="framing mode"):
        frame_reference(astronaut, face, "portrait", 256)


def test_apply_affine_round_trip_scales_z() -> None:
    points = np.array([[10.0, 20.0, 5.0], [30.0, -4.0, -2.0]], np.float32)
    affine = np.array([[2.0, 0.0, 7.0], [0.0, 2.0, -3.0]])
    mapped = apply_affine(points, affine)
    np.testing.assert_allclose(mapped, [[27, 37, 10], [67, -11, -4]])
    np.testing.assert_allclose(apply_affine(mapped, invert_affine(affine)), points, atol=1e-5)


def test_head_pose_of_frontal_face(face: Face) -> None:
    rotation = head_rotation(face.landmarks)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    assert all(abs(angle) < 15 for angle in head_pose_angles(face.landmarks))


@pytest.mark.parametrize(
    "angles", [(0, 20, 0), (-15, 0, 0), (0, 0, 25), (10, -25, -12), (-20, 35, 8)]
)
def test_head_pose_recovers_known_rotations(face: Face, angles: tuple[float, ...]) -> None:
    """(pitch, yaw, roll) in degrees."""
    lm = face.landmarks.astype(np.float64)
    centre = lm.mean(axis=0)
    # Undo the photo's own pose, then apply the known one about the centroid.
    turn = rotation_matrix(*np.radians(angles)) @ head_rotation(lm).T
    rotated = (lm - centre) @ turn.T + centre
    assert head_pose_angles(rotated) == pytest.approx(angles, abs=2.0)


def test_roll_sign_on_a_rotated_photo(astronaut: np.ndarray, face: Face) -> None:
    # cv2 angles are counter-clockwise on screen; -20 turns the photo 20 deg clockwise.
    turn = cv2.getRotationMatrix2D(face.center, -20, 1.0)
    rotated = cv2.warpAffine(astronaut, turn, (512, 512), borderMode=cv2.BORDER_REFLECT_101)
    roll_before = head_pose_angles(face.landmarks)[2]
    roll_after = head_pose_angles(_detect_one(rotated).landmarks)[2]
    assert roll_after - roll_before == pytest.approx(20, abs=3)


def test_mediapipe_logs_do_not_reach_the_terminal() -> None:
    script = (
        "import sys; from skimage import data\n"
        "from avatarvid.perception.face_mesh import FaceMeshTracker\n"
        "with FaceMeshTracker(static_image_mode=False) as t: n = len(t.detect(data.astronaut()))\n"
        "print('stderr still works', n, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stderr.strip() == "stderr still works 1"
