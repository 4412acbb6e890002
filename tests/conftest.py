"""Shared fixtures: the bundled real photo and speech, cut small so tests stay fast."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from avatarvid.assets import examples_dir

EXAMPLES = examples_dir()


def render_face_video(path: Path, photo: np.ndarray, motion_rows: np.ndarray, fps: float) -> Path:
    """`photo` moved by the product's rig and warp along (T, D) motion rows, as an mp4: a
    driver whose true motion is known."""
    from avatarvid.media.video import VideoWriter
    from avatarvid.motion.rig import FaceRig
    from avatarvid.perception.face_mesh import detect_reference_face
    from avatarvid.warp.face import FaceWarper

    landmarks = detect_reference_face(photo).landmarks
    rig, warper = FaceRig(landmarks), FaceWarper(photo, landmarks)
    height, width = photo.shape[:2]
    with VideoWriter(path, fps, width, height) as writer:
        for row in motion_rows:
            writer.write(warper.render(rig.landmarks(row)))
    return path


def lag_frames(late: np.ndarray, early: np.ndarray, reach: int = 3) -> float:
    """How many frames (sub-frame, by a parabola through the best correlation) `late` trails
    `early`; both (T,) tracks of the same motion at any scale."""
    a, b = ((x - x.mean()) / x.std() for x in (late, early))
    shifts = np.arange(-reach, reach + 1)
    corr = np.array([np.mean(a[reach + s : len(a) - reach + s] * b[reach:-reach]) for s in shifts])
    i = int(np.clip(np.argmax(corr), 1, len(corr) - 2))
    bend = corr[i - 1] - 2 * corr[i] + corr[i + 1]
    return float(shifts[i] + (corr[i - 1] - corr[i + 1]) / (2 * bend))


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return EXAMPLES / "astronaut.png"


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return EXAMPLES / "speech.wav"


@pytest.fixture(scope="session")
def astronaut(astronaut_path) -> np.ndarray:
    """The real photo (scikit-image's astronaut, 512x512) as RGB uint8."""
    from avatarvid.media.image import load_image

    return load_image(astronaut_path)


@pytest.fixture(scope="session")
def face(astronaut):
    """The astronaut's face as mediapipe sees it."""
    from avatarvid.perception.face_mesh import detect_reference_face

    return detect_reference_face(astronaut)


@pytest.fixture(scope="session")
def astronaut_landmarks(face) -> np.ndarray:
    return face.landmarks


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit mono wav (stdlib only, so fixtures don't depend on the code under test)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        return data, w.getframerate()


@pytest.fixture(scope="session")
def short_speech(tmp_path_factory, speech_path) -> Path:
    """The first 2.5 s of the bundled speech (speech starts right away)."""
    samples, rate = read_wav(speech_path)
    return write_wav(
        tmp_path_factory.mktemp("audio") / "short.wav", samples[: int(2.5 * rate)], rate
    )
