"""Training clips by random access (decord) agree with a sequential PyAV decode."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from avatarvid.data.sr_clips import ClipSampler, run_indices
from avatarvid.media.video import VideoReader

NUM_FRAMES, RUN, MAX_FRAMES = 150, 4, 40


def write_clip(path: Path, codec: str) -> Path:
    """NUM_FRAMES distinct 96x64 frames (a drifting texture) with a keyframe every 12."""
    y, x = np.mgrid[0:64, 0:96]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.gop_size = 12
        for i in range(NUM_FRAMES):
            rgb = np.stack([(x * 5 + i * 3) % 256, (y * 7 + i) % 256, (x + y + 2 * i) % 256], -1)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def pyav_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _crop_of(window: np.ndarray, frames: np.ndarray) -> bool:
    """Whether `window` is a spatial crop of `frames` (same length) at one position."""
    if len(frames) != len(window):
        return False
    ssd = cv2.matchTemplate(frames[0], window[0], cv2.TM_SQDIFF)
    y, x = np.unravel_index(ssd.argmin(), ssd.shape)
    h, w = window.shape[1:3]
    return bool(np.array_equal(window, frames[:, y : y + h, x : x + w]))


@pytest.fixture(scope="module", params=[("clip.mp4", "libx264"), ("clip.avi", "mpeg4")])
def clip(request, tmp_path_factory) -> tuple[Path, np.ndarray]:
    name, codec = request.param
    path = write_clip(tmp_path_factory.mktemp("video") / name, codec)
    return path, pyav_frames(path)


def test_runs_are_consecutive_and_spread_over_the_whole_video() -> None:
    runs = run_indices(NUM_FRAMES, MAX_FRAMES, RUN, np.random.default_rng(0))
    assert runs.shape == (4, 10)  # one run per MAX_FRAMES of video, the budget shared
    assert (np.diff(runs, axis=1) == 1).all()
    assert (np.diff(runs[:, 0]) >= runs.shape[1]).all()  # in order, never overlapping
    segment = NUM_FRAMES / len(runs)
    assert runs[0, 0] < segment and runs[-1, -1] >= NUM_FRAMES - segment
    assert runs.max() < NUM_FRAMES
    other = run_indices(NUM_FRAMES, MAX_FRAMES, RUN, np.random.default_rng(1))
    assert not np.array_equal(runs, other)  # random starts
    long = run_indices(10_000, 270, RUN, np.random.default_rng(0))
    assert long.shape == (38, 7) and long[0, 0] < 264 and long[-1, -1] >= 10_000 - 264


def test_a_video_within_the_budget_is_one_whole_run() -> None:
    whole = run_indices(30, MAX_FRAMES, RUN, np.random.default_rng(0))
    np.testing.assert_array_equal(whole, [np.arange(30)])
    assert run_indices(5, 2, RUN, np.random.default_rng(0)).shape == (1, RUN)


def test_random_access_equals_sequential_pyav_decode(clip) -> None:
    path, sequential = clip
    assert len(sequential) == NUM_FRAMES
    reader = VideoReader(path)
    indices = run_indices(NUM_FRAMES, MAX_FRAMES, RUN, np.random.default_rng(3))
    for run in indices[::-1]:  # backwards: every read seeks
        np.testing.assert_array_equal(reader.read(run), sequential[run])
    np.testing.assert_array_equal(reader.read([140, 7, 77]), sequential[[140, 7, 77]])


def test_sampler_holds_runs_from_the_whole_video(clip) -> None:
    path, sequential = clip
    sampler = ClipSampler([], [path], frames=RUN, patch=32, scale=2, max_video_frames=MAX_FRAMES)
    expected = run_indices(NUM_FRAMES, MAX_FRAMES, RUN, np.random.default_rng(0))
    (runs,) = sampler.videos
    np.testing.assert_array_equal(runs, sequential[expected])
    for _ in range(10):  # a video clip is RUN consecutive frames of one run, cropped
        window, guide, mask = sampler._video_clip()
        assert guide is None and mask is None  # no face video: synthetic guides only
        assert window.shape == (RUN, 32, 32, 3)
        assert any(_crop_of(window, run[t : t + RUN]) for run in runs for t in range(len(run)))
    lr, hr, guide, mask = sampler.clip()
    assert hr.shape == (RUN, 32, 32, 3) and lr.shape == (RUN, 16, 16, 3)
    assert guide.shape == hr.shape and mask.shape == (RUN, 16, 16, 1)
