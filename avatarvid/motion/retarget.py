"""Body retargeting: the driver's motion applied to the reference's skeleton, not its bones.

Skeletons are mediapipe's 33 pose landmarks plus two virtual joints (mid-hip = root, and
mid-shoulder), linked into a tree. Each bone of the output points where the driver's does and
keeps the *reference's* length times the driver's foreshortening (so an arm pointing at the
camera looks shorter); the root moves by the driver's root displacement scaled by the ratio
of torso sizes. The modes differ in what foreshortening is measured against, and the start:

- relative (default): a bone's foreshortening is its length over its *rest* length
  (rest_lengths: its length on the alignment frame, or 0.9 of its median over the clip when
  that is longer, so a first frame with a limb turned away does not stretch it later), so the
  photo keeps its own proportions. **The start**: the first frame shows the photo's own pose;
  each bone's angle offset from the driver's (and its length's) eases out over START_EASE_S
  (0.5 s, smoothstep), after which the photo moves as the driver does whatever pose it was
  caught in: a photo mid-kick driven by a walker walks. No posture offset of the photo's is
  kept after the ease: keeping its offsets from the driver's mean bone directions when under
  10 / 15 / 20 degrees cost PCK@0.1 of the retargeted skeletons (validation walkers, mean
  0.35 -> 0.32 / 0.27 / 0.25; synthetic driver 0.99 -> 0.84): a gesturing driver's mean pose
  is not how it stands. Until issue #19 relative mode added the driver's rotation since the
  alignment frame to the photo's pose: a photo standing unlike the driver's first frame kept
  its pose, and a driver who turned after that frame swung the photo's shoulders round
  (vtest.avi walker at (633, 292): motion correlation -0.15).
- absolute: foreshortening is the bone's length in the driver's torso lengths over the
  reference's, i.e. the driver's proportions, so a walker seen side-on narrows the photo's
  shoulders even when the alignment frame was side-on too (vtest.avi validation walkers:
  PCK@0.1 0.25 -> 0.53 and 0.50 -> 0.56; the synthetic driver, whose proportions mediapipe
  reads differently from the photo's: 0.90 -> 0.82); no ease.

So a driver twice as tall as the reference moves the reference's limbs without stretching them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from avatarvid.perception.pose import (
    L_HIP,
    L_SHOULDER,
    MIRROR,
    NUM_POSE,
    R_HIP,
    R_SHOULDER,
)

ROOT, NECK = NUM_POSE, NUM_POSE + 1  # virtual joints: mid-hip, mid-shoulder
NUM_JOINTS = NUM_POSE + 2
_MIRRORED = MIRROR + [ROOT, NECK]  # labels of the mirror image
RETARGET_MODES = ("relative", "absolute")
# (parent, child) in an order where every parent comes before its children.
BONES: tuple[tuple[int, int], ...] = (
    (ROOT, NECK), (ROOT, L_HIP), (ROOT, R_HIP), (NECK, L_SHOULDER), (NECK, R_SHOULDER),
    (NECK, 0), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (12, 14), (14, 16), (16, 18),
    (16, 20), (16, 22), (23, 25), (25, 27), (27, 29), (27, 31), (24, 26), (26, 28), (28, 30),
    (28, 32), (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (0, 9), (0, 10),
)  # fmt: skip
# Foreshortening: how much shorter / longer than at rest (absolute: than in the reference's
# proportions) a bone may appear.
_MIN_RATIO, _MAX_RATIO = 0.3, 1.15


def with_virtual_joints(points: np.ndarray) -> np.ndarray:
    """(..., 33, 2) -> (..., 35, 2): mid-hip and mid-shoulder appended."""
    root = (points[..., L_HIP, :] + points[..., R_HIP, :]) / 2
    neck = (points[..., L_SHOULDER, :] + points[..., R_SHOULDER, :]) / 2
    return np.concatenate([points, root[..., None, :], neck[..., None, :]], axis=-2)


def facing(joints: np.ndarray) -> np.ndarray:
    """(..., >=25, 2) skeletons -> (...,) how far the subject's left shoulder and hip lie to the
    image right of their right ones, in torso lengths: > 0 facing the camera, < 0 away."""
    side = joints[..., [L_SHOULDER, L_HIP], 0] - joints[..., [R_SHOULDER, R_HIP], 0]
    torso = np.linalg.norm(
        joints[..., [L_SHOULDER, R_SHOULDER], :].mean(-2) - joints[..., [L_HIP, R_HIP], :].mean(-2),
        axis=-1,
    )
    return side.mean(-1) / np.maximum(torso, 1e-6)


# A driver's facing must be this far from side-on (torso lengths, see `facing`) for its labels
# to change: a walker seen side-on, hovering near 0, is not relabelled back and forth (0.25:
# PCK@0.1 lower on all three validation clips that turn, in both modes).
TURN_MARGIN = 0.15


def face_like(driver: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T, >=33, 2) driver skeletons with left and right relabelled on the frames where the
    driver faces the other way than the reference (`turned_frames`).

    A 2D warp cannot turn a photo round, so a driver seen from behind (or read so by the pose
    model: walkers side-on in vtest.avi) drives the photo's near-side limbs with its
    near-side limbs; followed label by label, the photo's arms crossed over its body.
    """
    flips = turned_frames(driver, reference)
    out = driver.copy()
    out[flips] = driver[flips][:, _MIRRORED[: driver.shape[1]]]
    return out


def turned_frames(driver: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T,) bool: the frames of (T, >=33, 2) `driver` that `face_like` relabels: where it
    faces the other way than the reference (`facing`, past TURN_MARGIN; frames nearer side-on
    keep the labels of the frames around them, and a turn swaps them where it passes side-on).

    Decided per frame, not for the whole clip: a walker who turned from the camera to side-on
    (vtest.avi, frames 200-279 at (633, 292)) was relabelled on every frame by the clip's
    majority, and the photo's shoulders crossed over while it still faced the camera.
    """
    seen = facing(driver[..., :NUM_POSE, :])
    want = facing(reference[:NUM_POSE])
    clear = np.flatnonzero(np.abs(np.nan_to_num(seen)) > TURN_MARGIN)
    if len(clear) == 0:
        flip = bool(np.isfinite(seen).any() and np.nanmedian(seen) * want < 0)
        return np.full(len(driver), flip)
    decided = np.zeros(len(driver), bool)
    decided[clear] = seen[clear] * want < 0
    # Between two clear frames each frame takes the decision of the one before it (before the
    # first: the first's), except across a turn, where the labels change where the driver is
    # side-on (its own facing's sign): there its left and right shoulders meet, so the swap
    # moves them least.
    index = np.arange(len(driver))
    before = np.full(len(driver), -1)
    before[clear] = clear
    before = np.maximum.accumulate(before)
    before[before < 0] = clear[0]
    after = np.full(len(driver), len(driver))
    after[clear] = clear
    after = np.minimum.accumulate(after[::-1])[::-1]
    after[after == len(driver)] = clear[-1]
    flips = decided[before]
    turning = (decided[before] != decided[after]) & np.isfinite(seen) & ~np.isin(index, clear)
    flips[turning] = seen[turning] * want < 0
    return flips


def torso_length(joints: np.ndarray) -> float:
    """Mid-hip to mid-shoulder distance of a (35, 2) skeleton."""
    return float(np.linalg.norm(joints[NECK] - joints[ROOT]))


def _angle(v: np.ndarray) -> np.ndarray:
    return np.arctan2(v[..., 1], v[..., 0])


# Relative mode starts from the photo's own pose and eases into the driver's motion over
# START_EASE_S seconds (smoothstep on each bone's angle offset). Shorter follows the driver
# sooner (validation walkers, retargeted skeletons: mean motion correlation 0.796 / 0.793 /
# 0.784 / 0.775 for 0.4 / 0.5 / 0.8 / 1.2 s); 0.5 s is still seen as a move, not a jump.
START_EASE_S = 0.5
# A bone's rest length (what foreshortening is measured against) is its length on the
# alignment frame, or this fraction of its median length over the clip when that is longer:
# an alignment frame caught with the bone turned away does not stretch it later.
REST_LENGTH_FLOOR = 0.9


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _bones(joints: np.ndarray) -> np.ndarray:
    """(..., 35, 2) skeletons -> (..., len(BONES), 2) child-minus-parent vectors."""
    parents, children = zip(*BONES, strict=True)
    return joints[..., list(children), :] - joints[..., list(parents), :]


def rest_lengths(joints: np.ndarray, seen: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """(len(BONES),) the driver's rest bone lengths: on `anchor` (its alignment frame), or
    REST_LENGTH_FLOOR x the median over the `seen` frames of (T, 35, 2) `joints` if longer
    (the median itself for a bone `anchor` misses)."""
    frames = joints[seen] if seen.any() else joints
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bone never seen: NaN
        typical = np.nanmedian(np.linalg.norm(_bones(frames), axis=-1), axis=0)
    on_anchor = np.linalg.norm(_bones(anchor), axis=-1)
    floor = np.fmax(on_anchor, REST_LENGTH_FLOOR * typical)
    return np.where(np.isfinite(on_anchor), floor, typical)


@dataclass(frozen=True)
class Retargeter:
    """Maps driver skeletons (35, 2) onto the reference skeleton `reference` (35, 2).

    `driver_anchor` is the driver on the alignment frame; `lengths` its rest bone lengths
    (rest_lengths; default: the anchor's); `ease_frames` how long relative mode takes to ease
    from the photo's pose into the driver's motion (0: no ease).
    """

    reference: np.ndarray
    driver_anchor: np.ndarray
    mode: str = "relative"
    lengths: np.ndarray | None = None
    ease_frames: int = 0

    def __post_init__(self) -> None:
        if self.mode not in RETARGET_MODES:
            raise ValueError(f"mode must be one of {RETARGET_MODES}, got {self.mode!r}")

    @property
    def scale(self) -> float:
        """Reference size over driver size (torso lengths on the alignment frame)."""
        return torso_length(self.reference) / max(torso_length(self.driver_anchor), 1e-6)

    def left_of_ease(self, frame: int | None) -> float:
        """How much of the photo's own pose is left on `frame` (None: after the ease): 1 on
        frame 0, falling smoothly to 0 at `ease_frames`."""
        if frame is None or frame >= self.ease_frames:
            return 0.0
        x = frame / self.ease_frames
        return 1.0 - x * x * (3 - 2 * x)

    def __call__(self, driver: np.ndarray, frame: int | None = None) -> np.ndarray:
        """(35, 2) driver skeleton (NaN = never seen) on `frame` (None: after the start's
        ease) -> (35, 2) reference-shaped skeleton."""
        ref, anchor = self.reference, self.driver_anchor
        ref_b, anchor_b, now_b = _bones(ref), _bones(anchor), _bones(driver)
        ref_len, now_len = np.linalg.norm(ref_b, axis=-1), np.linalg.norm(now_b, axis=-1)
        angle = _angle(now_b)
        if self.mode == "absolute":
            # Proportions: driver bone / driver torso now against reference bone / reference
            # torso (a frame without the torso: the alignment frame's).
            proportion = torso_length(ref) / max(torso_length(driver), 1e-6)
            if not np.isfinite(proportion):
                proportion = self.scale
            ratio = proportion * now_len / np.maximum(ref_len, 1e-6)
        else:
            left = self.left_of_ease(frame)
            anchor_len = np.linalg.norm(anchor_b, axis=-1)
            rest = anchor_len if self.lengths is None else self.lengths
            if left > 0:  # (after the ease a bone unseen on the anchor frame still follows)
                rest = rest + left * (anchor_len - rest)
                angle = angle + left * _wrap(_angle(ref_b) - _angle(anchor_b))
            ratio = now_len / np.maximum(rest, 1e-6)
        ratio = np.clip(ratio, _MIN_RATIO, _MAX_RATIO)
        bones = (ratio * ref_len)[:, None] * np.stack([np.cos(angle), np.sin(angle)], -1)
        # A bone the driver never showed keeps the reference's pose.
        bones = np.where(np.isfinite(bones).all(axis=1, keepdims=True), bones, ref_b)
        out = np.full_like(ref, np.nan)
        root_shift = driver[ROOT] - anchor[ROOT]
        out[ROOT] = ref[ROOT] + (self.scale * root_shift if np.isfinite(root_shift).all() else 0)
        for k, (parent, child) in enumerate(BONES):
            out[child] = out[parent] + bones[k]
        return out


# Driver frames at or above this confidence are followed at once; below it the output moves
# only that fraction of the way (at least EASE_FLOOR: frames filled between detections, at
# confidence 0, still glide along the filled path), so a doubtful frame eases the pose
# instead of jerking it.
FULL_TRUST, EASE_FLOOR = 0.8, 0.35


# Travel slower than a moving average over this many seconds is the person's path, not their
# body's motion (a walker's stride and bob are ~1 s cycles).
TRAVEL_WINDOW_S = 1.0


def _slow(values: np.ndarray, fps: float) -> np.ndarray:
    """(T, C) columns averaged over TRAVEL_WINDOW_S (edges held)."""
    width = max(1, round(TRAVEL_WINDOW_S * fps)) | 1
    padded = np.pad(values, ((width // 2, width // 2), (0, 0)), mode="edge")
    kernel = np.ones(width) / width
    return np.stack(
        [np.convolve(padded[:, c], kernel, mode="valid") for c in range(values.shape[1])], 1
    )


def in_place(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T, J, 2) skeletons with the root's slow travel since the first frame removed.

    A driver who crosses a wide shot would walk the reference out of its photo (vtest.avi: a
    pedestrian crossing 200 px in 3 s moved the reference 360 px at 256 px output); so the
    output walks on the spot, like on a treadmill, and keeps the stride's bob and sway.
    """
    path = _slow(joints[:, ROOT], fps)
    return joints - (path - path[0])[:, None, :]


class ConfidenceEase:
    """Retargeted skeletons, eased by the driver's per-frame confidence (called in order)."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None

    def __call__(self, joints: np.ndarray, confidence: float) -> np.ndarray:
        weight = float(np.clip(confidence / FULL_TRUST, EASE_FLOOR, 1.0))
        if self._last is not None:
            joints = self._last + weight * (joints - self._last)
        self._last = joints
        return joints
