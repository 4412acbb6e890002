"""One person's pose through a whole video, tracked on two cores at once.

The pose model (mediapipe BlazePose full, ~22 ms a frame on one core of this CPU) is most of
`animate`'s time, and following a person is sequential: each frame's crop comes from the
last pose. So the video's two halves are tracked at once, each by its own PersonTracker, and
the seam is checked: where the second half's tracker found someone other than where the first
half's person was (another person, or nobody near the seam), the second half is tracked again
by the first half's tracker, continuing as one pass would have. Only per-frame numbers are
kept, so memory stays flat in the video's length.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import islice

import numpy as np

from avatarvid.media.video import VideoReader
from avatarvid.perception.person_track import (
    MAX_GROWTH,
    TRUSTED,
    PersonTracker,
    SharedPose,
    frame_confidence,
    last_depth,
)
from avatarvid.perception.pose import NUM_POSE, torso_centre_and_size

# Shorter videos are tracked in one pass: a second tracker's start-up (graph, detection) is
# not worth it.
SPLIT_MIN_FRAMES = 50
SEAM_FRAMES = 5  # frames searched on each side of the seam for a trusted pose
# The second half's tracker starts this many frames before the seam, its poses there dropped:
# mediapipe's video mode carries a region and a landmark filter from frame to frame, and a
# tracker started cold read the frames after the seam up to 10 px away from one pass (the
# synthetic driver at 384x512), 1-4 px once warmed up over 25 frames.
SEAM_WARM_UP = 25
# The person may move this many torso lengths a frame across the seam (a walker at 10 fps
# moves ~0.2); someone farther away is someone else.
SEAM_SHIFT = 0.5


@dataclass
class PoseRows:
    """Per-frame pose of the followed person, in the frames' pixels."""

    pose: np.ndarray  # (T, 33, 3); NaN where nobody was found
    confidence: np.ndarray  # (T,) frame_confidence, 0 where nobody was found
    depth: np.ndarray  # (T, 33) relative depth in torso lengths (PoseTracker.last_depth)

    @classmethod
    def empty(cls, count: int) -> PoseRows:
        return cls(
            np.full((count, NUM_POSE, 3), np.nan, np.float32),
            np.zeros(count, np.float32),
            np.full((count, NUM_POSE), np.nan, np.float32),
        )

    def clear(self, start: int) -> None:
        self.pose[start:], self.confidence[start:], self.depth[start:] = np.nan, 0.0, np.nan


def _follow(
    reader: VideoReader,
    tracker: PersonTracker,
    rows: PoseRows,
    span: tuple[int, int],
    tick: Callable[[], None],
    stop: threading.Event,
    warm_up: int = 0,
    size: tuple[int, int] | None = None,
) -> None:
    """Track frames [start, stop) of `reader`, decoded at `size` (width, height; None: as
    they are), into `rows` after `warm_up` frames before `start` tracked and dropped; return
    early once `stop` is set."""
    start, end = span
    first = max(start - warm_up, 0)
    for k, frame in enumerate(islice(reader.stream(first, size), end - first), first):
        if stop.is_set():
            return
        pose = tracker(frame)
        if k < start:
            continue
        if pose is not None:
            rows.pose[k], rows.confidence[k] = pose, frame_confidence(pose)
            depth = last_depth(tracker)
            if depth is not None:
                rows.depth[k] = depth
        tick()


def seam_holds(rows: PoseRows, seam: int) -> bool:
    """Whether the trusted poses nearest each side of frame `seam` are one person: near in
    place and size for the frames between them."""
    trusted = rows.confidence >= TRUSTED
    before = [k for k in range(seam - 1, max(seam - SEAM_FRAMES, 0) - 1, -1) if trusted[k]]
    after = [k for k in range(seam, min(seam + SEAM_FRAMES, len(trusted))) if trusted[k]]
    if not before or not after:
        return False
    a, b = before[0], after[0]
    (centre_a, size_a), (centre_b, size_b) = (torso_centre_and_size(rows.pose[k]) for k in (a, b))
    if min(size_a, size_b) <= 0:
        return False
    near = np.linalg.norm(centre_a - centre_b) <= SEAM_SHIFT * max(size_a, size_b) * (b - a)
    return bool(near and max(size_a, size_b) / min(size_a, size_b) <= MAX_GROWTH ** (b - a))


def track_person(
    reader: VideoReader,
    near: tuple[float, float] | None,
    tick: Callable[[], None],
    stop: threading.Event,
    min_split: int = SPLIT_MIN_FRAMES,
    size: tuple[int, int] | None = None,
) -> PoseRows:
    """Per-frame pose of the person nearest `near` (x, y in the first frame; None: the most
    clearly detected one), in the pixels of frames decoded at `size` (width, height; None:
    as they are); `tick` is called once a frame tracked (from two threads; a frame tracked
    again after a failed seam ticks again), and tracking ends early once `stop` is set.
    Videos of `min_split` frames or more are tracked in two halves at once."""
    count = reader.num_frames
    rows = PoseRows.empty(count)
    seam = count // 2 if count >= max(min_split, 2) else count
    with ExitStack() as trackers:
        whole = SharedPose()
        trackers.callback(whole.close)
        first = trackers.enter_context(PersonTracker(near, whole))
        helper, errors = None, []
        if seam < count:
            second = trackers.enter_context(PersonTracker(None, whole))

            def second_half() -> None:
                try:
                    _follow(reader, second, rows, (seam, count), tick, stop, SEAM_WARM_UP, size)
                except BaseException as exc:  # raised again on the calling thread
                    errors.append(exc)
                    stop.set()

            helper = threading.Thread(target=second_half, name="pose-second-half", daemon=True)
            helper.start()
        try:
            _follow(reader, first, rows, (0, seam), tick, stop, size=size)
        except BaseException:
            stop.set()
            raise
        finally:
            if helper is not None:
                helper.join()
        if errors:
            raise errors[0]
        if seam < count and not stop.is_set() and not seam_holds(rows, seam):
            rows.clear(seam)
            _follow(reader, first, rows, (seam, count), tick, stop, size=size)
    return rows
