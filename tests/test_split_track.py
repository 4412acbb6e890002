"""The driver pass on several threads: pose tracked in two halves at once with the seam
checked, frames read from any start, and fd 2 silenced safely from several threads; real
mediapipe on the vtest.avi cut of test_driver_tracking.py and a drawn 60-frame driver."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

import avatarvid
from avatarvid.evaluate.pose_follow import normalised
from avatarvid.evaluate.synthetic import gesture_figure, hopper_reference, write_driver
from avatarvid.media.video import VideoReader
from avatarvid.perception.mp_runtime import silenced_stderr
from avatarvid.perception.person_track import PersonTracker
from avatarvid.perception.pose import SCORED
from avatarvid.perception.split_track import PoseRows, seam_holds, track_person

WALKER = Path(__file__).parent / "data" / "vtest_walker.mp4"
WALKER_AT = (281.0, 136.0)  # the walker; without a point the tracker takes another person


class Ticks:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def one_pass(path: Path, near: tuple[float, float] | None) -> np.ndarray:
    with PersonTracker(near) as tracker:
        found = [tracker(f) for f in VideoReader(path).stream()]
    return np.stack([np.full((33, 3), np.nan, np.float32) if p is None else p for p in found])


def test_stream_from_a_start_frame_is_the_tail_of_the_whole_stream():
    reader = VideoReader(WALKER)
    whole = list(reader.stream())
    tail = list(reader.stream(5))
    assert len(tail) == len(whole) - 5
    assert all(np.array_equal(a, b) for a, b in zip(tail, whole[5:], strict=True))


def test_stream_decoded_to_a_size_matches_resizing_the_full_frames():
    reader = VideoReader(WALKER)
    whole = list(reader.stream())
    same = list(reader.stream(size=(384, 288)))  # the video's own size: no scaling at all
    assert all(np.array_equal(a, b) for a, b in zip(same, whole, strict=True))
    small = list(reader.stream(size=(192, 144)))
    assert small[0].shape == (144, 192, 3)
    resized = [cv2.resize(f, (192, 144), interpolation=cv2.INTER_AREA) for f in whole]
    diff = np.abs(np.stack(small).astype(int) - np.stack(resized)).mean(axis=(1, 2, 3))
    assert diff.max() < 1.0  # grey levels: the same area filter, one conversion less


def test_pose_tracked_on_frames_decoded_smaller_is_the_same_pose_scaled(tmp_path):
    drive = tmp_path / "drive.mp4"
    write_driver(drive, gesture_figure(), 12)
    reader = VideoReader(drive)
    full = track_person(reader, None, Ticks(), threading.Event())
    size = (reader.width * 3 // 4, reader.height * 3 // 4)
    small = track_person(reader, None, Ticks(), threading.Event(), size=size)
    assert (small.confidence > 0.5).all()
    scored = list(SCORED)
    err = np.linalg.norm(small.pose[:, scored, :2] / 0.75 - full.pose[:, scored, :2], axis=2)
    assert np.median(err) / reader.height < 0.01


def test_second_half_following_someone_else_is_tracked_again_as_one_pass():
    ticks = Ticks()
    rows = track_person(VideoReader(WALKER), WALKER_AT, ticks, threading.Event(), min_split=4)
    # the second half's own tracker took the person standing further back: the seam failed
    # and the first half's tracker went on through frames 4-7, as one pass does
    assert ticks.count == 8 + 4
    np.testing.assert_array_equal(rows.pose, one_pass(WALKER, WALKER_AT))


def test_halves_tracked_at_once_agree_with_one_pass(tmp_path):
    drive = tmp_path / "drive.mp4"
    write_driver(drive, gesture_figure(), 60)
    ticks = Ticks()
    rows = track_person(VideoReader(drive), None, ticks, threading.Event(), min_split=50)
    assert ticks.count == 60  # split at frame 30, seam held: no frame tracked twice
    assert (rows.confidence > 0.5).all()
    single = one_pass(drive, None)
    err = [
        np.linalg.norm(normalised(a)[list(SCORED)] - normalised(b)[list(SCORED)], axis=1)
        for a, b in zip(rows.pose, single, strict=True)
    ]
    np.testing.assert_array_equal(rows.pose[:30], single[:30])  # the first half is one pass
    assert np.median(err[30:]) < 0.05  # torso lengths: the second half's restart settles


def test_seam_check():
    rows = PoseRows.empty(20)
    torso = np.zeros((33, 3), np.float32)
    torso[[11, 12, 23, 24], :2] = [[90, 100], [110, 100], [92, 140], [108, 140]]  # torso 40
    rows.pose[:] = torso
    rows.confidence[:] = 0.9
    assert seam_holds(rows, 10)
    rows.pose[10:, :, 0] += 25  # 0.625 torso lengths in one frame: too far (SEAM_SHIFT 0.5)
    assert not seam_holds(rows, 10)
    rows.confidence[10] = 0.0  # ... but not in two frames
    assert seam_holds(rows, 10)
    rows.confidence[10] = 0.9
    rows.pose[10:, :, 0] -= 10  # 0.375 torso lengths in one frame: the same person walking
    assert seam_holds(rows, 10)
    rows.pose[10:, :, :2] = torso[:, :2] * 2  # twice the size, elsewhere: someone else
    assert not seam_holds(rows, 10)
    rows.pose[10:] = torso
    rows.confidence[5:15] = 0.0  # nobody trusted within SEAM_FRAMES of the seam
    assert not seam_holds(rows, 10)


def test_silencing_stderr_from_overlapping_threads_restores_it():
    before = os.fstat(2)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with silenced_stderr():
            a_in.set()
            b_in.wait()
        a_out.set()

    def second() -> None:
        a_in.wait()
        with silenced_stderr():
            b_in.set()
            a_out.wait()  # the first leaves while this one is still inside

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_cancel_during_the_driver_pass_stops_it_and_writes_nothing(tmp_path):
    drive, image = tmp_path / "drive.mp4", tmp_path / "ref.png"
    write_driver(drive, gesture_figure(), 60)
    cv2.imwrite(str(image), hopper_reference()[..., ::-1])  # full body: the pose threads run
    seen: list[int] = []
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == "driver":
            seen.append(done)
            if done == 5:
                cancel.set()

    out = tmp_path / "out" / "c.mp4"
    out.parent.mkdir()
    with pytest.raises(avatarvid.Cancelled):
        avatarvid.animate(image, drive, out, size=128, cancel=cancel, progress=progress)
    assert seen[:5] == [1, 2, 3, 4, 5] and max(seen) < 60
    assert list(out.parent.iterdir()) == []
