"""Driving-video perception: streamed passes of pose and face mesh, kept as small arrays.

Only per-frame numbers are kept (33 pose points, one face-motion residual and the lip shape it
misses: about 2 kB a frame), never the frames, so memory stays flat in the video's length. The
face mesh and the pose run at once on their own threads (the pose on two:
perception/split_track.py). The body is read by following the person with a crop
(perception/person_track.py); left/right flips are undone, frames the pose model is unsure of
are dropped, and the gaps filled and the tracks smoothed afterwards (perception/smoothing.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from avatarvid.errors import InputError
from avatarvid.geometry import fit_similarity
from avatarvid.media.video import VideoReader
from avatarvid.motion.lip_detail import LipCarrier, spread
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.perception.face_mesh import FaceMeshTracker
from avatarvid.perception.framing import apply_affine
from avatarvid.perception.landmark_ids import RIGID
from avatarvid.perception.person_track import (
    TRUSTED,
    consistent_sides,
)
from avatarvid.perception.pose import VISIBLE
from avatarvid.perception.smoothing import fill_gaps, one_euro_both_ways
from avatarvid.perception.split_track import PoseRows, track_person

# Driver frames are analysed at most this large (the models work at 192-256 px internally),
# decoded straight to that size (`VideoReader.stream`). The pose follows a crop of the person,
# so it gets larger frames: a small figure keeps its detail (vtest.avi, 768x576, whole).
ANALYSIS_SIDE = 640
POSE_SIDE = 1024
# One-Euro settings: pose in frame heights (fast limbs keep up), face motion in rig units.
_POSE_FILTER = {"min_cutoff": 2.5, "beta": 15.0}
FACE_FILTER = {"min_cutoff": 2.0, "beta": 10.0}
# Mediapipe reads only part of a brow, gaze or lid-widening move when it sees the warp render
# it (each channel rendered on 3 photos and re-detected: gaze ~0.3, brows ~0.2-0.5, wider eyes
# ~0.3-0.45 of the move), so a driver's reading, passed on at face value, came out at 0.3-0.5
# of its amplitude. These gains, tuned on a validation clip (README, `avatarvid study
# eval_reenact`), scale the driver's reading up; a blink's closing is read near fully. Not
# gaze_y: mediapipe's vertical iris follows the lids, and a gain on it (or gaze_x above 2)
# cost the eyes' correlation on the validation clip.
DRIVER_GAINS = {
    "brow_inner_up": 2.0, "brow_outer_up_l": 2.0, "brow_outer_up_r": 2.0, "brow_down": 2.0,
    "gaze_x": 2.0,
}  # fmt: skip
EYE_WIDENING_GAIN = 2.0  # negative blinks (eyes opening wider than on the first frame)
_GAIN = np.ones(MOTION_LAYOUT.dim, np.float32)
_GAIN[MOTION_LAYOUT.indices(tuple(DRIVER_GAINS))] = list(DRIVER_GAINS.values())
_BLINKS = MOTION_LAYOUT.indices(("blink_l", "blink_r"))


@dataclass
class DriverTrack:
    """What the driving video does, frame by frame, in its analysis-resolution pixels."""

    fps: float
    pose: np.ndarray  # (T, 33, 2); NaN for joints never seen
    pose_seen: np.ndarray  # (T,) bool: a person was detected with confidence
    pose_confidence: np.ndarray  # (T,) mean visibility of the scored joints, 0 when not found
    face: np.ndarray  # (T, MOTION_LAYOUT.dim) residuals relative to the driver's first face
    face_seen: np.ndarray  # (T,) bool
    height: int
    # (T, 33) relative depth in torso lengths (smaller is nearer the camera); NaN unknown.
    depth: np.ndarray | None = None
    # (T, P, 2) the lip shape `face` misses at mesh points `lip_points` (motion/lip_detail.py)
    lips: np.ndarray | None = None
    lip_points: np.ndarray | None = None

    def lip_detail(self, index: int) -> np.ndarray | None:
        """(478, 3) canonical detail of frame `index` for `FaceRig.landmarks` (None: none)."""
        if self.lips is None or self.lip_points is None:
            return None
        return spread(self.lip_points, self.lips[index])

    @property
    def num_frames(self) -> int:
        return len(self.pose_seen)


class FaceReading(NamedTuple):
    """One driver face: its motion residual and the lip shape the residual misses."""

    residual: np.ndarray  # (MOTION_LAYOUT.dim,)
    lips: np.ndarray  # (P, 2) at the fitter's `carrier.points`, since the first face


class FaceMotionFitter:
    """Driver face landmarks -> motion residuals for the reference's rig.

    relative: residuals of the driver's own rig (built on its first detected face), i.e. its
    motion since then; absolute: the driver's face aligned onto the reference face (similarity
    on rigid points of the first detected face) and fitted with the reference's rig.
    """

    def __init__(self, reference: np.ndarray | None, mode: str) -> None:
        self._reference = reference
        self._mode = mode
        self._rig: FaceRig | None = None
        self._align: np.ndarray | None = None
        self.carrier: LipCarrier | None = None
        self._first_lips: np.ndarray | None = None

    def __call__(self, landmarks: np.ndarray) -> FaceReading:
        if self._rig is None:
            if self._mode == "absolute" and self._reference is not None:
                rigid = list(RIGID)
                fit = fit_similarity(landmarks[rigid, :2], self._reference[rigid, :2])
                self._align = fit.matrix()
                self._rig = FaceRig(self._reference)
            else:
                self._rig = FaceRig(landmarks)
            self.carrier = LipCarrier.for_face(self._rig.canonical)
        if self._align is not None:
            landmarks = apply_affine(landmarks, self._align)
        residual, remainder = self._rig.fit_with_remainder(landmarks)
        assert self.carrier is not None
        lips = self.carrier.take(remainder)
        if self._first_lips is None:  # absolute mode: the driver's own lip shape is not motion
            self._first_lips = lips
        return FaceReading(driver_gains(residual), lips - self._first_lips)


def driver_gains(residual: np.ndarray) -> np.ndarray:
    """A driver's fitted residual with DRIVER_GAINS and EYE_WIDENING_GAIN applied."""
    out = residual * _GAIN
    blinks = out[_BLINKS]
    out[_BLINKS] = np.where(blinks < 0, EYE_WIDENING_GAIN * blinks, blinks)
    return out


class _Ticks:
    """A frame counter that several threads add to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self) -> None:
        with self._lock:
            self.count += 1


# How often the waiting thread passes the workers' progress on (and checks for cancelling).
_REPORT_S = 0.2


def _wait_reporting(
    jobs: list[Future],
    ticks: _Ticks,
    progress: Callable[[int], None] | None,
    stop: threading.Event,
) -> None:
    """Wait for `jobs`, passing their frame count to `progress` as it grows; a failure in a
    job or in `progress` (a cancel) stops the others and is raised here."""
    reported, pending = 0, set(jobs)
    try:
        while pending:
            done, pending = wait(pending, timeout=_REPORT_S, return_when=FIRST_EXCEPTION)
            for job in done:
                job.result()
            if progress is not None:
                for _ in range(ticks.count - reported):  # a frame at a time, as they came
                    progress(1)
                    reported += 1
    except BaseException:
        stop.set()
        raise


def _analysis_size(reader: VideoReader, side: int) -> tuple[float, tuple[int, int]]:
    """(scale, (width, height)) of the reader's frames shrunk to at most `side` a side."""
    scale = min(1.0, side / max(reader.width, reader.height))
    return scale, (round(reader.width * scale), round(reader.height * scale))


def track_driver(
    path,
    fit_face: FaceMotionFitter,
    need_pose: bool,
    progress: Callable[[int], None] | None = None,
    person: tuple[float, float] | None = None,
) -> DriverTrack:
    """Stream `path` through pose (when `need_pose`; of the person nearest `person`, x y in
    the first frame's pixels, or the most clearly detected one) and face mesh; fill and
    smooth."""
    reader = VideoReader(path)
    scale, size = _analysis_size(reader, ANALYSIS_SIDE)
    pose_scale, pose_size = _analysis_size(reader, POSE_SIDE)
    # Written in place: per-frame results kept as small objects would be scattered through
    # the heap between mediapipe's large buffers and pin it (RSS grew ~0.5 MB per frame).
    count = reader.num_frames
    face_arr = np.zeros((count, MOTION_LAYOUT.dim), np.float32)
    face_seen_arr = np.zeros(count, bool)
    lips_arr: np.ndarray | None = None  # (count, P, 2) once the first face sets P
    stop, ticks = threading.Event(), _Ticks()

    def track_faces() -> None:
        nonlocal lips_arr
        with FaceMeshTracker(static_image_mode=False, max_faces=1) as mesh:
            for k, frame in enumerate(reader.stream(size=size)):
                if stop.is_set():
                    return
                found = mesh.detect(frame)
                if found:
                    reading = fit_face(found[0].landmarks)
                    if lips_arr is None:
                        lips_arr = np.zeros((count, *reading.lips.shape), np.float32)
                    face_arr[k], lips_arr[k], face_seen_arr[k] = *reading, True
                if not need_pose:
                    ticks()

    # The face mesh and the pose (itself on two threads, perception/split_track.py) run at
    # once; mediapipe and PyAV release the GIL. On two cores a 750-frame 384x512 driver took
    # 17.7 s (13.3 s without the face mesh, whose fit holds the GIL ~3 ms a frame).
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="driver") as pool:
        jobs = [pool.submit(track_faces)]
        if need_pose:
            near = None if person is None else (person[0] * pose_scale, person[1] * pose_scale)
            jobs.append(pool.submit(track_person, reader, near, ticks, stop, size=pose_size))
        _wait_reporting(jobs, ticks, progress, stop)
    rows = jobs[1].result() if need_pose else PoseRows.empty(count)
    pose_arr, confidence, depth_arr = rows.pose, rows.confidence, rows.depth
    pose_arr[:, :, :2] *= scale / pose_scale
    # Frames below TRUSTED are dropped and filled from their neighbours.
    pose_seen_arr = confidence >= TRUSTED
    if need_pose and not pose_seen_arr.any():
        raise InputError(
            f"no person found in the driving video {path}; use a clip in which one person's "
            "body is clearly visible"
        )
    if not need_pose and not face_seen_arr.any():
        raise InputError(
            f"no face found in the driving video {path}; use a talking-head clip with one "
            "clearly visible face"
        )
    seen = (pose_arr[:, :, 2] >= VISIBLE) & pose_seen_arr[:, None]
    # Depth rides along as a third coordinate, so a left/right swap swaps it too.
    tracks = np.concatenate([pose_arr[:, :, :2], depth_arr[:, :, None]], axis=2)
    tracks = consistent_sides(np.where(seen[:, :, None], tracks, np.nan))
    tracks = fill_gaps(tracks, np.isfinite(tracks))
    height = size[1]
    points = one_euro_both_ways(tracks[:, :, :2] / height, reader.fps, **_POSE_FILTER) * height
    face_arr = fill_gaps(face_arr, np.repeat(face_seen_arr[:, None], face_arr.shape[1], axis=1))
    # Both ways, as the pose: filtered forwards only, the face trailed the driver by about half
    # a frame (a 2.5 Hz jaw 0.4 frames, a head sway 0.76), and self-reenactment matched the
    # real frame before better than its own.
    face_arr = np.nan_to_num(one_euro_both_ways(face_arr, reader.fps, **FACE_FILTER))
    lips = lip_points = None
    if lips_arr is not None and fit_face.carrier is not None:  # a face was found
        seen = np.broadcast_to(face_seen_arr[:, None, None], lips_arr.shape)
        lips = one_euro_both_ways(fill_gaps(lips_arr, seen), reader.fps, **FACE_FILTER)
        lips, lip_points = np.nan_to_num(lips), fit_face.carrier.points
    return DriverTrack(
        reader.fps, points, pose_seen_arr, confidence, face_arr, face_seen_arr, height,
        depth=tracks[:, :, 2], lips=lips, lip_points=lip_points,
    )  # fmt: skip
