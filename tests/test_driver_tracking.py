"""Driver tracking on real footage and the animate benchmark: a 0.8 s cut of OpenCV's
vtest.avi (Debian opencv-doc, BSD-3-Clause; frames 0-7, x 384-768, y 144-432) in which
a pedestrian ~80 px tall walks left and another stands further back, with real mediapipe."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatarvid.cli import main
from avatarvid.evaluate.pose_follow import foot_sliding, motion_correlation
from avatarvid.evaluate.synthetic import hopper_reference
from avatarvid.media.video import VideoReader, probe
from avatarvid.motion.retarget import ROOT, ConfidenceEase, face_like, facing, in_place
from avatarvid.perception.person_track import (
    TRUSTED,
    PersonTracker,
    consistent_sides,
    frame_confidence,
)
from avatarvid.perception.pose import L_ANKLE, L_HIP, L_WRIST, MIRROR, R_WRIST, PoseTracker

WALKER = Path(__file__).parent / "data" / "vtest_walker.mp4"
WALKER_AT = (281.0, 136.0)  # on the walker in the first frame
FRAMES = list(VideoReader(WALKER).frames())


def torso_centre(pose: np.ndarray) -> np.ndarray:
    return pose[[11, 12, 23, 24], :2].mean(axis=0)


def test_tracker_follows_the_small_walker_that_plain_pose_misses():
    with PoseTracker(static_image_mode=False) as plain:
        assert all(plain.detect(f) is None for f in FRAMES)  # too small in the frame
    with PersonTracker(WALKER_AT) as tracker:
        poses = [p for p in map(tracker, FRAMES) if p is not None]
    assert len(poses) >= 7  # a frame may be missed: the gap is filled from its neighbours
    assert all(frame_confidence(p) >= TRUSTED for p in poses)
    xs = np.array([torso_centre(p)[0] for p in poses])
    assert abs(xs[0] - WALKER_AT[0]) < 15
    assert np.all(np.diff(xs) < 0) and 40 < xs[0] - xs[-1] < 100  # walks left ~9 px a frame
    # upright: ankles below hips by about a leg (the person is ~80 px tall)
    assert all(25 < p[L_ANKLE, 1] - p[L_HIP, 1] < 60 for p in poses)


def test_tracker_without_a_point_takes_the_clearest_person():
    with PersonTracker() as tracker:
        pose = tracker(FRAMES[0])
    assert pose is not None
    assert torso_centre(pose)[0] < 200  # the one standing further back, not the walker


def test_consistent_sides_undoes_a_label_flip():
    t = np.arange(10, dtype=np.float32)
    track = np.zeros((10, 33, 2), np.float32)
    track[:, :, 0] = 100 + 3 * t[:, None]
    track[:, L_WRIST] += [40, 0]
    track[:, R_WRIST] -= [40, 0]
    flipped = track.copy()
    flipped[5:7] = flipped[5:7, MIRROR]
    fixed = consistent_sides(flipped)
    np.testing.assert_allclose(fixed, track)
    assert np.array_equal(consistent_sides(track), track)


def test_driver_seen_from_behind_is_mirrored_to_face_like_the_photo():
    front = np.zeros((35, 2))
    front[[11, 23], 0], front[[12, 24], 0] = 10.0, -10.0  # subject's left on the image right
    front[[11, 12], 1], front[[23, 24], 1] = -50.0, 0.0
    assert facing(front) > 0
    behind = front[MIRROR + [33, 34]][None].repeat(4, axis=0)
    assert np.all(facing(behind) < 0)
    np.testing.assert_allclose(face_like(behind, front)[0], front)
    np.testing.assert_allclose(face_like(front[None], front)[0], front)


def test_walking_across_the_frame_becomes_walking_on_the_spot():
    t = np.arange(50) / 25.0
    joints = np.zeros((50, 35, 2))
    bob = 3 * np.sin(2 * np.pi * 4 * t)  # a 4 Hz bob while crossing at 100 px/s
    joints[:, :, 0] += (100 * t)[:, None]
    joints[:, :, 1] += bob[:, None]
    still = in_place(joints, 25.0)
    assert np.ptp(still[10:40, ROOT, 0]) < 5  # the travel is gone (edges: partial window)
    assert np.corrcoef(still[:, ROOT, 1], bob)[0, 1] > 0.9  # the bob stays


def test_unsure_frames_ease_instead_of_jumping():
    ease = ConfidenceEase()
    a, b = np.zeros((35, 2)), np.ones((35, 2))
    assert np.array_equal(ease(a, 0.9), a)
    half = ease(b, 0.4)  # half as sure as FULL_TRUST: half way
    np.testing.assert_allclose(half, 0.5)
    np.testing.assert_allclose(ease(b, 0.95), b)


def test_pose_following_metrics():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 10, (20, 33, 2)) + 100
    truth[:, [11, 12], 1], truth[:, [23, 24], 1] = 50.0, 100.0  # a torso of 50 px
    truth[:, 11, 0], truth[:, 12, 0], truth[:, 23, 0], truth[:, 24, 0] = 120, 80, 115, 85
    assert motion_correlation(truth * 2 + 7, truth) == pytest.approx(1.0)
    assert np.isnan(motion_correlation(np.repeat(truth[:1], 20, axis=0), truth))
    planted = truth.copy()
    planted[:, [27, 28]] = truth[0, [27, 28]]  # the driver's feet do not move
    assert foot_sliding(planted, planted, 25.0) == 0.0
    assert foot_sliding(truth, planted, 25.0) > 1.0  # the output's slide


def test_animate_cli_follows_the_person_pointed_at(tmp_path, capsys):
    ref, out = tmp_path / "ref.png", tmp_path / "out.mp4"
    cv2.imwrite(str(ref), hopper_reference()[..., ::-1])
    code = main(["animate", "--image", str(ref), "--drive", str(WALKER), "-o", str(out),
                 "--size", "128", "--person", *map(str, WALKER_AT), "-q"])  # fmt: skip
    assert code == 0
    assert probe(out).num_frames == len(FRAMES)
    with pytest.raises(SystemExit) as stop:  # a point needs both coordinates
        main(["animate", "--image", str(ref), "--drive", str(WALKER), "-o", str(out),
              "--person", "281"])  # fmt: skip
    assert stop.value.code == 2
    assert "--person: expected 2 arguments" in capsys.readouterr().err


def test_bench_animate_writes_one_json(tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(["study", "bench_animate", "--drive", str(WALKER), "--frames", "6",
                 "--size", "128", "--person", *map(str, WALKER_AT), "--out", str(out)])  # fmt: skip
    assert code == 0
    report = json.loads((out / "bench_animate.json").read_text())
    assert report["frames"] == 6 and report["driver_seen"] == 1.0
    for row in ("frozen", "relative", "absolute"):
        assert 0.0 <= report[row]["pck@0.1"] <= report[row]["pck@0.2"] <= 1.0
    assert report["frozen"]["background_change"] == 0.0
    for mode in ("relative", "absolute"):
        assert 0.0 <= report[mode]["background_change"] < 10.0
        assert report[mode]["foot_sliding"] >= 0.0 or np.isnan(report[mode]["foot_sliding"])
    assert json.loads(capsys.readouterr().out) == report
