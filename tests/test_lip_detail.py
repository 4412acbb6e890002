"""Face mode carries the driver's lip shape that the rig's channels do not span: a driver
made from the real astronaut photo pulls its mouth to one side and back while it talks (no rig
channel moves the mouth sideways), and the output's mouth, measured by mediapipe, follows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatarvid.cli import main
from avatarvid.evaluate.metrics import inter_ocular, pearson
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader, VideoWriter
from avatarvid.motion.driving import FaceMotionFitter
from avatarvid.motion.lip_detail import LIPS, LipCarrier, spread
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import Motion
from avatarvid.perception import landmark_ids as ids
from avatarvid.perception.face_mesh import FaceMeshTracker, detect_reference_face
from avatarvid.warp.face import FaceWarper

FRAMES, FPS, SIDE = 36, 25, 256
PULL = 0.15  # canonical units (inter-ocular distances) at the pull's widest


@pytest.fixture(scope="module")
def small_astronaut(astronaut_path) -> tuple[np.ndarray, np.ndarray]:
    photo = cv2.resize(load_image(astronaut_path), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return photo, detect_reference_face(photo).landmarks


def _pulled(rig: FaceRig, amount: float) -> np.ndarray:
    """(478, 3) canonical detail: the mouth and the skin around it moved sideways."""
    carrier = LipCarrier.for_face(rig.canonical)
    offsets = np.zeros((len(carrier.points), 2), np.float32)
    offsets[:, 0] = amount * carrier.weights
    return spread(carrier.points, offsets)


def _mouth_side(landmarks: np.ndarray) -> float:
    """The lips' centre left or right of the nose tip, in inter-ocular units."""
    centre = landmarks[list(ids.LIPS_OUTER), 0].mean()
    return float((centre - landmarks[ids.NOSE_TIP, 0]) / inter_ocular(landmarks))


def test_fit_and_remainder_rebuild_the_landmarks(small_astronaut):
    _, landmarks = small_astronaut
    rig = FaceRig(landmarks)
    move = Motion.zeros(1, FPS)
    move["jaw_open"], move["head_yaw"] = 0.4, 0.15
    target = rig.landmarks(move.values[0], _pulled(rig, PULL))
    residual, remainder = rig.fit_with_remainder(target)
    assert np.array_equal(residual, rig.fit(target))
    plain = rig.landmarks(residual)[:, :2]
    rebuilt = rig.landmarks(residual, remainder)[:, :2]
    lips = list(LIPS)
    before = np.abs(plain[lips] - target[lips, :2]).max()
    assert before > 1.0  # pixels: the rig alone cannot draw the pulled mouth
    # Not exact: the remainder is read in the head frame's x and y, the depth the fitted
    # channels give the lips (a pucker pushes them forward) is not the target's, and the
    # photo's own head turn maps that depth into a little image x and y (0.7-0.8 px here).
    assert np.abs(rebuilt - target[:, :2]).max() < 0.2 * before


def test_carrier_moves_the_lips_and_never_the_skull(small_astronaut):
    _, landmarks = small_astronaut
    carrier = LipCarrier.for_face(FaceRig(landmarks).canonical)
    weight = dict(zip(carrier.points.tolist(), carrier.weights.tolist(), strict=True))
    assert all(weight[p] == 1.0 for p in LIPS)
    assert not set(carrier.points) & (set(ids.RIGID) | set(range(ids.NUM_MESH, 478)))
    assert 0.0 < weight[ids.NOSE_TIP] < 0.5  # the skin near the lips follows, fading
    assert ids.CHIN not in weight and ids.FOREHEAD_TOP not in weight
    assert len(carrier.points) < 250  # the stored track stays small
    detail = spread(carrier.points, np.ones((len(carrier.points), 2), np.float32))
    assert detail.shape == (478, 3) and detail[:, 2].max() == 0.0
    assert detail[list(ids.RIGID)].max() == 0.0


def test_first_driver_face_carries_nothing(small_astronaut):
    """The driver's own lip shape is not motion: in either mode the first face reads 0."""
    _, landmarks = small_astronaut
    rig = FaceRig(landmarks)
    for mode in ("relative", "absolute"):
        fitter = FaceMotionFitter(landmarks * np.float32([1.02, 0.98, 1.0]), mode)
        reading = fitter(landmarks)
        assert np.abs(reading.lips).max() == 0.0
        moved = fitter(rig.landmarks(np.zeros(len(reading.residual)), _pulled(rig, PULL)))
        assert np.abs(moved.lips[:, 0]).max() > 0.5 * PULL


def _mouth_sides(path) -> np.ndarray:
    with FaceMeshTracker(static_image_mode=False, max_faces=1) as tracker:
        return np.array(
            [_mouth_side(tracker.detect(f)[0].landmarks) for f in VideoReader(path).stream()]
        )


def test_face_mode_follows_a_mouth_pulled_sideways(tmp_path, astronaut_path, small_astronaut):
    photo, landmarks = small_astronaut
    rig, warper = FaceRig(landmarks), FaceWarper(photo, landmarks)
    t = np.arange(FRAMES)
    talk = Motion.zeros(FRAMES, FPS)
    talk["jaw_open"] = 0.3 * (1 - np.cos(2 * np.pi * t / 12))
    pull = PULL * np.sin(2 * np.pi * t / 18)
    driver = tmp_path / "driver.mp4"
    with VideoWriter(driver, FPS, SIDE, SIDE) as writer:
        for row, amount in zip(talk.values, pull, strict=True):
            writer.write(warper.render(rig.landmarks(row, _pulled(rig, amount))))
    out = tmp_path / "out.mp4"
    args = ["animate", "--image", str(astronaut_path), "--drive", str(driver), "--mode", "face"]
    assert main([*args, "-o", str(out), "--size", "256", "-q"]) == 0
    want, got = _mouth_sides(driver), _mouth_sides(out)
    assert len(got) == FRAMES
    # With the rig alone (its corner channels fit part of the pull) the output's mouth read
    # correlation 0.86 and 0.42 of the driver's amplitude; carried, 0.96 and 0.61 (mediapipe
    # reads about half of a pull the warp draws, so the output's reading of the driver's
    # reading is lower still).
    assert pearson(want, got) >= 0.93
    assert 0.5 <= np.std(got) / np.std(want) <= 1.5
