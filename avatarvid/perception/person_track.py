"""Follow one person through a video and read their pose where the pose model can see it.

mediapipe's pose model works on a ~256 px view of the person; run on a whole street-camera
frame it misses a pedestrian 80 px tall, or finds them only now and then (vtest.avi: PCK 0.0
in `animate`, issue #19). So the person is found first (OpenCV's HOG people detector, on an
upscaled frame), then every frame is cut to a square around them, scaled to CROP_SIDE and
given to pose in video mode; the square re-centres on the pose it finds, so it follows the
person, and the detector is run again when the pose is lost.

Each frame also gets a confidence (mean visibility of the scored joints, 0 when nothing was
found) that gap filling and retargeting use, and left/right labels are kept consistent over
time (pose models flip them when a person turns side-on).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from avatarvid.perception.mp_runtime import check_rgb
from avatarvid.perception.pose import (
    NUM_POSE,
    SCORED,
    SIDES,
    TORSO,
    VISIBLE,
    PoseTracker,
    torso_centre_and_size,
)

CROP_SIDE = 256  # the pose model's own input size
# The crop's side in person heights: the whole body with room for arms raised or a stride.
CROP_MARGIN = 1.5
# Frames are scaled to this height before people detection (HOG finds people >= ~100 px, so
# anyone over a tenth of the frame's height; a 4K frame at full size took seconds).
DETECT_HEIGHT = 1000
# A pose with at least this confidence (frame_confidence) is taken as the person's; a driver
# frame below it is dropped and filled from its neighbours.
TRUSTED = 0.5
LOST_AFTER = 3  # frames without a pose before the person is looked for again
# Re-centring follows the pose found this much per frame (the rest: where the crop was).
FOLLOW = 0.6
# A standing adult is ~3.4 of their torso lengths (mid-shoulder to mid-hip) tall, and the
# middle of their height lies ~0.6 torso lengths below the torso's centre.
BODY_PER_TORSO, BODY_CENTRE_DROP = 3.4, 0.6
# A person's apparent height changes by at most this factor a frame; a pose implying more is
# the model latching onto something else (vtest.avi: a walker passing behind a sign post).
MAX_GROWTH = 1.2
# A flip is taken when the swapped labels fit the predicted pose this much better.
_FLIP_GAIN = 0.7


def find_people(rgb: np.ndarray) -> np.ndarray:
    """(N, 5) people boxes (x0, y0, x1, y1, score) in `rgb`'s pixels, best score first."""
    rgb = check_rgb(rgb)
    scale = DETECT_HEIGHT / rgb.shape[0]
    big = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    boxes, scores = hog.detectMultiScale(big, winStride=(8, 8), padding=(8, 8), scale=1.1)
    if len(boxes) == 0:
        return np.zeros((0, 5), np.float32)
    out = np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]]) / scale
    out = np.column_stack([out, np.ravel(scores)]).astype(np.float32)
    return out[np.argsort(-out[:, 4])]


def frame_confidence(pose: np.ndarray | None) -> float:
    """Mean visibility of the scored joints (0 when no pose was found)."""
    return 0.0 if pose is None else float(np.mean(pose[list(SCORED), 2]))


def _extent(pose: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Centre and height of the body, from the torso alone (None when it is not seen).

    Not from all the joints: the crop then zoomed and shifted as the arms rose and fell, and
    the pose model, which tracks its own region from frame to frame, read the synthetic
    waving driver worse.
    """
    if not np.all(pose[list(TORSO), 2] >= VISIBLE):
        return None
    centre, torso = torso_centre_and_size(pose)
    return centre + [0.0, BODY_CENTRE_DROP * torso], BODY_PER_TORSO * torso


class SharedPose:
    """A still-image PoseTracker that trackers on several threads take turns with: they use it
    only to find the person again, and each graph holds ~110 MB."""

    def __init__(self) -> None:
        self._pose = PoseTracker(static_image_mode=True)
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> np.ndarray | None:
        with self._lock:
            return self._pose.detect(rgb)

    def close(self) -> None:
        self._pose.close()


class PersonTracker:
    """Per-frame (33, 3) poses of one person in frame pixels; a context manager.

    `near` (x, y in the first frame) picks the person; by default the detector's best one.
    `whole`: the still-image pose graph to look for them with (default: its own).
    """

    def __init__(
        self, near: tuple[float, float] | None = None, whole: SharedPose | None = None
    ) -> None:
        self._pose = PoseTracker(static_image_mode=False)
        self._owns_whole = whole is None
        self._whole = SharedPose() if whole is None else whole
        self._fresh = True  # just (re)acquired: the first pose may resize the crop freely
        self._near = None if near is None else np.asarray(near, np.float64)
        self._centre: np.ndarray | None = None
        self._velocity = np.zeros(2)
        self._height = 0.0
        self._missed = 0

    def _acquire(self, rgb: np.ndarray) -> None:
        """Where the person is: the whole frame's pose when it shows them clearly (a person
        filling the frame), else the people detector's box nearest `near` (or its best)."""
        whole = self._whole.detect(rgb)
        found = _extent(whole) if frame_confidence(whole) >= TRUSTED else None
        if found is not None and (
            self._near is None or np.linalg.norm(found[0] - self._near) < found[1] / 2
        ):
            self._centre, self._height = found[0].astype(np.float64), found[1]
            self._velocity[:] = 0
            return
        boxes = find_people(rgb)
        if len(boxes) == 0:
            h, w = rgb.shape[:2]
            self._centre, self._height = np.array([w / 2, h / 2]), h / CROP_MARGIN
            return
        centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
        # HOG's boxes hold the person with ~1/8 of their height to spare at top and bottom.
        heights = 0.8 * (boxes[:, 3] - boxes[:, 1])
        best = 0
        if self._near is not None:
            # Nearest in person heights, among people of about the size last seen.
            unit = self._height if self._height > 0 else heights
            cost = np.linalg.norm(centres - self._near, axis=1) / unit
            if self._height > 0:
                cost += 2 * np.abs(np.log(heights / self._height))
            best = int(np.argmin(cost))
        self._centre, self._height = centres[best].astype(np.float64), float(heights[best])
        self._velocity[:] = 0

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """The person's pose on this frame, or None when it was not found."""
        rgb = check_rgb(rgb)
        if self._centre is None or self._missed >= LOST_AFTER:
            self._acquire(rgb)
            self._missed, self._fresh = 0, True
        assert self._centre is not None
        side = CROP_MARGIN * self._height
        if side >= min(rgb.shape[:2]):
            # The person fills the frame: the pose model sees them well in it (and a crop
            # past the frame's edges would show it smeared borders; the synthetic driver's
            # PCK@0.1 was 0.74 through the crop, 0.81 on the whole frame).
            pose = self._pose.detect(rgb)
        else:
            k = CROP_SIDE / side
            origin = self._centre - side / 2
            affine = np.array([[k, 0, -k * origin[0]], [0, k, -k * origin[1]]], np.float64)
            crop = cv2.warpAffine(
                rgb, affine, (CROP_SIDE, CROP_SIDE), flags=cv2.INTER_CUBIC,
                borderMode=cv2.BORDER_REPLICATE,
            )  # fmt: skip
            pose = self._pose.detect(crop)
            if pose is not None:
                pose = pose.copy()
                pose[:, :2] = pose[:, :2] / k + origin
        found = None if pose is None else _extent(pose)
        growth = 1.0 if found is None or self._fresh else found[1] / self._height
        if found is None or not 1 / MAX_GROWTH <= growth <= MAX_GROWTH:
            self._missed += 1  # coast: the person keeps walking while unseen
            self._centre = self._centre + self._velocity
            self._near = self._centre
            return None
        centre, height = found
        if self._fresh:  # the detector's box was a guess: take the pose's place and size
            self._centre, self._height = centre.astype(np.float64), height
            self._velocity[:] = 0
        else:
            moved = (1 - FOLLOW) * self._centre + FOLLOW * centre
            self._velocity = 0.5 * self._velocity + 0.5 * (moved - self._centre)
            self._centre = moved
            self._height = (1 - FOLLOW) * self._height + FOLLOW * height
        self._missed, self._fresh = 0, False
        self._near = self._centre
        return pose

    def close(self) -> None:
        self._pose.close()
        if self._owns_whole:
            self._whole.close()

    def __enter__(self) -> PersonTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def last_depth(tracker: PersonTracker) -> np.ndarray | None:
    """(33,) relative depth (torso lengths, smaller is nearer) of the pose `tracker` last
    returned (perception/pose.py: PoseTracker.last_depth)."""
    return tracker._pose.last_depth


def consistent_sides(poses: np.ndarray) -> np.ndarray:
    """(T, 33, >=2) track with left/right labels swapped back where the model flipped them.

    Each frame's labels are compared with the pose predicted from the two before it
    (constant velocity): a group whose swapped labels fit the prediction clearly better is
    swapped. Rows with NaN are left as they are and not used as evidence.
    """
    out = np.array(poses, dtype=np.float32, copy=True)
    for t in range(1, len(out)):
        prev = out[t - 1, :, :2]
        pred = 2 * prev - out[t - 2, :, :2] if t >= 2 else prev
        pred = np.where(np.isfinite(pred), pred, prev)
        for left, right in SIDES:  # each group's labels are swapped together
            lr, rl = list(left), list(right)
            same = np.linalg.norm(out[t, lr, :2] - pred[lr], axis=1) + np.linalg.norm(
                out[t, rl, :2] - pred[rl], axis=1
            )
            swap = np.linalg.norm(out[t, rl, :2] - pred[lr], axis=1) + np.linalg.norm(
                out[t, lr, :2] - pred[rl], axis=1
            )
            ok = np.isfinite(same) & np.isfinite(swap)
            if ok.sum() >= 2 and swap[ok].sum() < _FLIP_GAIN * same[ok].sum():
                out[t, lr + rl] = out[t, rl + lr]
    return out


def empty_pose() -> np.ndarray:
    """The (33, 3) row of a frame in which nobody was found."""
    return np.full((NUM_POSE, 3), np.nan, np.float32)
