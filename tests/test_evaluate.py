"""Eval metrics on signals with known answers, and the full report on a synthetic video."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from scipy.io import wavfile
from skimage import data

from avatarvid.evaluate.identity import aligned_face_crop, crop_sharpness, crop_similarity
from avatarvid.evaluate.metrics import (
    best_lag_correlation,
    count_blinks,
    eye_aspect_ratio,
    landmark_jitter,
    mouth_aperture,
    speech_envelope,
)
from avatarvid.evaluate.report import EvalReport, evaluate_talking_video
from avatarvid.perception.face_mesh import Face
from avatarvid.perception.landmark_ids import LOWER_LIP_TOP, UPPER_LIP_BOTTOM

FPS = 25
NUM_FRAMES = 50
AUDIO_RATE = 48000
VIDEO_LAG = 2  # the synthetic mouth trails the audio by this many frames


# --- pure metrics -------------------------------------------------------------------------


@pytest.mark.parametrize("lag", [-4, -1, 0, 3, 5])
def test_best_lag_finds_a_delayed_copy(lag: int) -> None:
    rng = np.random.default_rng(0)
    source = np.convolve(rng.normal(size=220), np.ones(3) / 3, mode="same")
    b = source[10:210]
    a = source[10 - lag : 210 - lag]  # a[t] = b[t - lag]
    corr, found = best_lag_correlation(a, b, max_lag=5)
    assert found == lag
    assert corr == pytest.approx(1.0, abs=1e-9)


def test_best_lag_skips_nans_and_handles_flat_signals() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(size=100)
    a = np.roll(b, 2)
    a[[10, 11, 50]] = np.nan
    corr, lag = best_lag_correlation(a, b)
    assert lag == 2 and corr > 0.99
    corr, lag = best_lag_correlation(np.ones(100), b)
    assert np.isnan(corr) and lag == 0


def _ear_with_dips(starts: list[int], length: int = 750, depth: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(2)
    ear = 0.3 + rng.normal(scale=0.005, size=length)
    for start in starts:
        ear[start : start + 3] = [0.2, depth, 0.18]
    return ear


def test_count_blinks_counts_dips() -> None:
    assert count_blinks(_ear_with_dips([50, 200, 330, 500, 700]), fps=25) == 5


def test_count_blinks_merges_flicker_and_skips_missing_faces() -> None:
    ear = _ear_with_dips([100, 400])
    ear[104:106] = [0.12, 0.1]  # re-closes 4 frames after the first blink: same blink
    ear[250:300] = np.nan
    assert count_blinks(ear, fps=25) == 2
    assert count_blinks(np.full(100, 0.3), fps=25) == 0
    assert count_blinks(np.full(100, np.nan), fps=25) == 0


def test_landmark_jitter_is_zero_for_smooth_motion_and_grows_with_noise() -> None:
    t = np.arange(60, dtype=np.float64)[:, None, None]
    base = np.random.default_rng(3).uniform(0, 100, size=(1, 21, 2))
    smooth = base + t * np.array([1.5, -0.5])
    scale = np.full(60, 50.0)
    assert landmark_jitter(smooth, scale) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(4)
    small = landmark_jitter(smooth + rng.normal(scale=0.5, size=smooth.shape), scale)
    large = landmark_jitter(smooth + rng.normal(scale=2.0, size=smooth.shape), scale)
    assert 0 < small < large
    gappy = smooth.copy()
    gappy[30] = np.nan
    assert landmark_jitter(gappy, scale) == pytest.approx(0.0, abs=1e-9)


def test_speech_envelope_pads_short_audio_with_silence() -> None:
    tone = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 200).astype(np.float32)  # 1 s
    envelope = speech_envelope(tone, 16000, fps=25, num_frames=50)
    assert envelope.shape == (50,)
    assert envelope[1:24].min() > -4.0  # a full-scale sine is -3 dB RMS
    assert envelope[26:] == pytest.approx(envelope.max() - 40.0)


def test_face_measurements(face: Face) -> None:
    assert 0.05 < mouth_aperture(face.landmarks) < 0.4
    assert 0.15 < eye_aspect_ratio(face.landmarks) < 0.45
    closed = face.landmarks.copy()
    closed[LOWER_LIP_TOP] = closed[UPPER_LIP_BOTTOM]
    assert mouth_aperture(closed) == 0.0


def test_identity_proxy(astronaut: np.ndarray, face: Face) -> None:
    reference = aligned_face_crop(astronaut, face.landmarks)
    assert reference.shape == (112, 112) and reference.dtype == np.uint8
    # The same face at another scale and position still aligns onto the same crop.
    moved = cv2.warpAffine(astronaut, np.array([[0.6, 0, 80], [0, 0.6, 120]]), (512, 512))
    moved_lm = face.landmarks * 0.6 + np.array([80, 120, 0], np.float32)
    assert crop_similarity(aligned_face_crop(moved, moved_lm), reference) > 0.6
    other = aligned_face_crop(data.coffee(), face.landmarks)
    assert crop_similarity(other, reference) < 0.3
    assert crop_similarity(reference, reference) == pytest.approx(1.0)
    blurred = cv2.GaussianBlur(reference, (0, 0), 1.5)
    assert crop_sharpness(blurred) < 0.5 * crop_sharpness(reference)
    assert crop_sharpness(np.full_like(reference, 128)) == 0.0


# --- the report on a synthetic talking video ------------------------------------------------


def _syllables() -> np.ndarray:
    """Per-frame loudness in [0.1, 1] that varies like speech: random, smooth over ~3 frames."""
    rng = np.random.default_rng(5)
    raw = np.convolve(rng.uniform(size=NUM_FRAMES + 20), np.ones(3) / 3, mode="same")[10:-10]
    return 0.1 + 0.9 * (raw - raw.min()) / (raw.max() - raw.min())


def _speech(envelope: np.ndarray) -> np.ndarray:
    """A buzzy 150 Hz voice whose amplitude follows `envelope` (one value per video frame)."""
    t = np.arange(NUM_FRAMES * AUDIO_RATE // FPS) / AUDIO_RATE
    amplitude = np.interp(t, np.arange(NUM_FRAMES) / FPS, envelope)
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    return (0.25 * amplitude * voice).astype(np.float32)


def _open_mouth(image: np.ndarray, lm: np.ndarray, pixels: float) -> np.ndarray:
    """Drop the jaw by `pixels`: everything below the lip line (near the mouth) moves down."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lip_line = (lm[13, 1] + lm[14, 1]) / 2
    centre_x, half = (lm[61, 0] + lm[291, 0]) / 2, (lm[291, 0] - lm[61, 0]) * 0.8
    below = np.clip((yy - lip_line) / 2, 0, 1) * np.clip(1 - (yy - lm[152, 1]) / 40, 0, 1)
    across = np.sqrt(np.clip(1 - np.abs(xx - centre_x) / half, 0, 1))
    return cv2.remap(image, xx, yy - pixels * below * across, cv2.INTER_LINEAR)


def _write_mp4(path: Path, frames: list[np.ndarray], audio: np.ndarray) -> None:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        for start in range(0, len(audio), 1024):
            chunk = av.AudioFrame.from_ndarray(audio[None, start : start + 1024], "fltp", "mono")
            chunk.sample_rate, chunk.pts = AUDIO_RATE, start
            chunk.time_base = Fraction(1, AUDIO_RATE)
            container.mux(sound.encode(chunk))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))


@pytest.fixture(scope="module")
def talking_video(
    tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray, face: Face
) -> tuple[Path, Path, np.ndarray]:
    """The astronaut sliding 1 px/frame, jaw following the audio VIDEO_LAG frames late."""
    folder = tmp_path_factory.mktemp("eval")
    loudness = _syllables()
    frames = []
    for i in range(NUM_FRAMES):
        opened = _open_mouth(astronaut, face.landmarks, 12 * loudness[max(0, i - VIDEO_LAG)])
        shift = np.array([[1.0, 0.0, i - 25.0], [0.0, 1.0, 0.0]])
        frames.append(cv2.warpAffine(opened, shift, (512, 512), borderMode=cv2.BORDER_REFLECT))
    video = folder / "talk.mp4"
    _write_mp4(video, frames, _speech(loudness))
    reference = folder / "reference.png"
    cv2.imwrite(str(reference), astronaut[:, :, ::-1])
    return video, reference, loudness


def test_report_on_a_synthetic_talking_video(talking_video: tuple[Path, Path, np.ndarray]) -> None:
    video, reference, _ = talking_video
    report = evaluate_talking_video(video, reference)
    assert report.num_frames == NUM_FRAMES and report.fps == pytest.approx(FPS)
    assert report.face_fraction == 1.0
    assert report.lipsync_lag_frames == VIDEO_LAG
    assert report.lipsync_corr > 0.7
    assert report.blinks_per_minute == 0
    for spread in (report.yaw_std_deg, report.pitch_std_deg, report.roll_std_deg):
        assert spread < 2.0
    assert report.head_speed_deg_s < 5.0  # still head: tracker noise is filtered out
    assert report.jitter < 0.03  # mediapipe's own frame-to-frame noise is ~0.01-0.02
    assert report.identity_similarity > 0.6
    assert report.face_sharpness > 10
    assert report.video_duration_s == pytest.approx(2.0)
    assert report.audio_duration_s == pytest.approx(2.0, abs=0.05)
    assert report.duration_diff_s == pytest.approx(2.0 - report.audio_duration_s)
    assert report.duration_diff_frames == pytest.approx(report.duration_diff_s * FPS)

    table = report.format_table()
    assert "lip-sync lag (frames)" in table and "face sharpness" in table
    assert json.loads(json.dumps(report.to_dict()))["face_fraction"] == 1.0


def test_report_uses_the_given_audio_file(talking_video: tuple[Path, Path, np.ndarray]) -> None:
    video, reference, loudness = talking_video
    # This track runs 3 frames later than the one in the video, so the video is 1 frame early.
    later = _speech(np.concatenate([np.full(3, loudness[0]), loudness[:-3]]))
    later = np.concatenate([later, np.zeros(AUDIO_RATE * 2 // 5, np.float32)])  # 0.4 s longer
    wav = video.with_name("later.wav")
    wavfile.write(wav, AUDIO_RATE, later)
    report = evaluate_talking_video(video, reference, audio_path=wav)
    assert report.lipsync_lag_frames == VIDEO_LAG - 3
    assert report.audio_duration_s == pytest.approx(2.4)
    assert report.duration_diff_s == pytest.approx(-0.4)
    assert report.duration_diff_frames == pytest.approx(-10)


def test_report_sees_a_shaky_video(tmp_path: Path, astronaut: np.ndarray) -> None:
    rng = np.random.default_rng(6)
    frames = [
        cv2.warpAffine(astronaut, np.array([[1.0, 0, dx], [0, 1.0, dy]]), (512, 512))
        for dx, dy in rng.integers(-2, 3, size=(20, 2))
    ]
    video = tmp_path / "shaky.mp4"
    _write_mp4(video, frames, np.zeros(AUDIO_RATE * 20 // FPS, np.float32))
    reference = tmp_path / "reference.png"
    cv2.imwrite(str(reference), astronaut[:, :, ::-1])
    assert evaluate_talking_video(video, reference).jitter > 0.06


def test_report_without_a_face(tmp_path: Path, astronaut: np.ndarray) -> None:
    frames = [data.coffee()[:400, :600].copy() for _ in range(10)]
    video = tmp_path / "coffee.mp4"
    _write_mp4(video, frames, np.zeros(AUDIO_RATE * 10 // FPS, np.float32))
    reference = tmp_path / "reference.png"
    cv2.imwrite(str(reference), astronaut[:, :, ::-1])
    report = evaluate_talking_video(video, reference)
    assert report.face_fraction == 0.0
    assert report.lipsync_corr is None and report.lipsync_lag_frames is None
    assert report.identity_similarity is None and report.jitter is None
    assert report.face_sharpness is None
    assert "n/a" in report.format_table()
    assert isinstance(report, EvalReport)


def test_phoneme_opening_follows_the_spoken_phonemes():
    """pocketsphinx on real synthesised speech: its phones imply the mouth espeak-ng's own
    phoneme timings imply (the ground truth), and the phones lie inside the clip, in order."""
    from avatarvid.data.espeak import Espeak
    from avatarvid.data.visemes import mouth_targets
    from avatarvid.evaluate.phoneme_sync import phoneme_opening
    from avatarvid.media.features import num_video_frames
    from avatarvid.perception.phonemes import recognise_phones

    utt = Espeak().synth(
        "Please remember to buy milk, bread and seven apples.", voice="en-us+f2", rate=185
    )
    phones = recognise_phones(utt.audio, utt.rate)
    duration = len(utt.audio) / utt.rate
    assert len(phones) > 15 and {"M", "B"} & {p.name for p in phones}
    pairs = zip(phones[:-1], phones[1:], strict=True)
    assert all(0 <= a.start < a.end <= b.start + 1e-6 for a, b in pairs)
    assert phones[-1].end <= duration + 0.02

    n = num_video_frames(len(utt.audio), utt.rate, 25.0)
    truth = mouth_targets(utt.phones, n, 25.0)
    truth_opening = truth[:, 0] * (1 - truth[:, 1])
    opening = phoneme_opening(utt.audio, utt.rate, n, 25.0)
    assert opening.shape == (n,) and opening.min() >= 0
    assert np.corrcoef(opening, truth_opening)[0, 1] > 0.6
    room_tone = np.random.default_rng(0).normal(0, 1e-3, 16000).astype(np.float32)
    assert phoneme_opening(room_tone, 16000, 25, 25.0).max() < 0.05
