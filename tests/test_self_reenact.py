"""Self-reenactment scores (evaluate/self_reenact.py) and their study, on the real photo."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import render_face_video

from avatarvid.evaluate.self_reenact import MAX_PSNR, ReenactScores, box, landmark_errors
from avatarvid.evaluate.studies import eval_self_reenact
from avatarvid.media.image import load_image
from avatarvid.motion.schema import Motion
from avatarvid.perception.face_mesh import detect_reference_face

SIDE, FRAMES, FPS = 256, 32, 25


def test_box_grows_and_stays_inside_the_image():
    points = np.array([[10.0, 20.0], [30.0, 60.0]])
    rows, cols = box(points, 0.25, (64, 100))
    assert (rows.start, rows.stop) == (10, 64)  # 20 - 10 .. 60 + 10, clipped to 64
    assert (cols.start, cols.stop) == (0, 41)


def test_aed_ignores_head_pose_and_akd_does_not(astronaut_landmarks):
    real = astronaut_landmarks
    theta = np.deg2rad(8.0)
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    moved = real.copy()
    moved[:, :2] = 1.1 * (real[:, :2] - 256) @ turn.T + 256 + [12.0, -5.0]
    akd, aed = landmark_errors(moved, real)
    assert akd > 0.1 and aed < 1e-6
    assert landmark_errors(real, real) == (0.0, 0.0)
    smiled = real.copy()
    smiled[61, 0] -= 20.0  # one mouth corner pulled out: an expression, not a pose
    assert landmark_errors(smiled, real)[1] > 0.0


def test_scores_of_a_perfect_and_a_shifted_output(astronaut, astronaut_landmarks):
    shifted = np.roll(astronaut, 4, axis=1)
    perfect, off = ReenactScores(), ReenactScores()
    shifted_mesh = astronaut_landmarks.copy()
    shifted_mesh[:, 0] += 4
    for _ in range(10):
        perfect.add(astronaut, astronaut, astronaut_landmarks, astronaut_landmarks)
        off.add(shifted, astronaut, shifted_mesh, astronaut_landmarks)
    good, bad = perfect.summary(), off.summary()
    assert good["face_psnr"] == MAX_PSNR and good["face_ssim"] == pytest.approx(1.0)
    assert good["head_psnr"] == MAX_PSNR and bad["head_psnr"] < 35
    assert good["akd"] == 0.0 and good["frames"] == 10 and good["faces_lost"] == 0
    assert bad["face_psnr"] < 35 and bad["mouth_psnr"] < 35
    assert bad["akd"] > 0.02 and bad["aed"] < 1e-6
    with pytest.raises(ValueError, match="output frame"):
        perfect.add(astronaut[:10], astronaut, None, None)


def test_a_frame_without_a_real_face_is_counted_not_scored(astronaut, astronaut_landmarks):
    scores = ReenactScores()
    scores.add(astronaut, astronaut, astronaut_landmarks, None)
    scores.add(astronaut, astronaut, None, astronaut_landmarks)
    summary = scores.summary()
    assert summary["frames"] == 2 and summary["faces_lost"] == 1
    assert summary["face_psnr"] == MAX_PSNR and np.isnan(summary["akd"])


def test_the_warp_reenacts_better_than_the_frozen_photo(tmp_path, astronaut_path):
    """A driver made by the product's own rig (a nod and an opening jaw) drives its first
    frame: the warp must follow it (landmarks closer, mouth correlated), the still photo not."""
    photo = cv2.resize(load_image(astronaut_path), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    detect_reference_face(photo)
    motion = Motion.zeros(FRAMES, FPS)
    t = np.arange(FRAMES)
    motion["jaw_open"] = 0.5 * (1 - np.cos(t / 3.0))
    motion["head_pitch"] = 0.08 * np.sin(t / 4.0)  # radians
    video = render_face_video(tmp_path / "real.mp4", photo, motion.values, FPS)
    out = tmp_path / "report.json"
    argv = ["--video", str(video), "--json", str(out), "--out", str(tmp_path / "work")]
    assert eval_self_reenact.main(argv) == 0
    report = json.loads(out.read_text())
    frozen, warp = report["frozen"], report["warp"]
    assert report["size"] == SIDE and frozen["frames"] == warp["frames"] == FRAMES - 1
    assert warp["akd"] < 0.5 * frozen["akd"]
    # mediapipe's mouth reading of 31 frames at 256 px is noisy: 0.81 with the driver track
    # filtered forwards, 0.66 both ways, though the both-ways track is the closer one to the
    # true jaw (correlation 0.958 vs 0.941) and the output's mouth PSNR rose 20.9 -> 21.9 dB.
    assert warp["mouth_corr"] > 0.6
    assert warp["mouth_psnr"] > frozen["mouth_psnr"]
