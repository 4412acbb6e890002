"""Held-out evaluation of audio-to-motion generators against phoneme-derived targets.

Every generator (procedural baseline, untrained or trained diffusion model) is scored the
same way on the same clips: mouth opening is measured geometrically, through the expression
rig on a real face (inner-lip gap over inter-ocular distance, head pose zeroed), so methods
that use different channels to open the mouth are compared fairly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from avatarvid.data.shards import Clip
from avatarvid.evaluate.metrics import best_lag_correlation, mouth_aperture, pearson
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import (
    HEAD_ROTATION,
    HEAD_TRANSLATION,
    MOTION_LAYOUT,
    MOUTH_CHANNELS,
    Motion,
)

Generator = Callable[[np.ndarray, int], Motion]  # (16 kHz audio, seed) -> motion at clip fps
_HEAD = MOTION_LAYOUT.indices(HEAD_ROTATION + HEAD_TRANSLATION)
_MOUTH = MOTION_LAYOUT.indices(MOUTH_CHANNELS)
_BLINK = MOTION_LAYOUT.indices(("blink_l", "blink_r"))


@dataclass
class MotionScores:
    aperture_corr: float  # Pearson r at lag 0, all clips concatenated
    aperture_corr_best: float  # best r over |lag| <= 5 frames
    timing_offset_frames: int  # lag of that best r (positive: motion late)
    aperture_mae: float  # inter-ocular distances
    lip_mae: float  # rig weights, mouth channels
    jitter: float  # mean |second difference| of mouth opening per frame
    head_diversity_rad: float  # std across seeds of head rotation, mean over frames
    blink_diversity: float  # std across seeds of the blink channel
    mouth_diversity: float  # std across seeds of mouth opening (low = same lip sync)

    def as_dict(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def mouth_opening(rig: FaceRig, values: np.ndarray) -> np.ndarray:
    """Per-frame inner-lip gap / inter-ocular distance of `values` on `rig`'s face."""
    v = np.array(values, np.float32)
    v[:, _HEAD] = 0.0
    return np.array([mouth_aperture(lm) for lm in rig.landmarks(v)])


def score(generate: Generator, clips: list[Clip], rig: FaceRig, seeds=(0, 1, 2)) -> MotionScores:
    """Scores `generate` on `clips` (first seed for accuracy, all seeds for diversity)."""
    pred_ap, true_ap, lip_err, jit, head_div, blink_div, mouth_div = [], [], [], [], [], [], []
    for clip in clips:
        runs = [generate(clip.audio, s).values[: len(clip.motion)] for s in seeds]
        n = min(len(clip.motion), *(len(r) for r in runs))
        runs = [r[:n] for r in runs]
        target = clip.motion[:n]
        openings = [mouth_opening(rig, r) for r in runs]
        pred_ap.append(openings[0])
        true_ap.append(mouth_opening(rig, target))
        lip_err.append(np.abs(runs[0][:, _MOUTH] - target[:, _MOUTH]).mean())
        jit.append(np.abs(np.diff(openings[0], 2)).mean() if n > 2 else 0.0)
        stack = np.stack(runs)
        head_div.append(stack[:, :, MOTION_LAYOUT.indices(HEAD_ROTATION)].std(0).mean())
        blink_div.append(stack[:, :, _BLINK].std(0).mean())
        mouth_div.append(np.stack(openings).std(0).mean())
    p, t = np.concatenate(pred_ap), np.concatenate(true_ap)
    best, lag = best_lag_correlation(p, t)
    return MotionScores(
        aperture_corr=pearson(p, t),
        aperture_corr_best=best,
        timing_offset_frames=lag,
        aperture_mae=float(np.abs(p - t).mean()),
        lip_mae=float(np.mean(lip_err)),
        jitter=float(np.mean(jit)),
        head_diversity_rad=float(np.mean(head_div)),
        blink_diversity=float(np.mean(blink_div)),
        mouth_diversity=float(np.mean(mouth_div)),
    )


def seam_smoothness(
    values: np.ndarray, scale: np.ndarray, starts: list[int], overlap: int
) -> tuple[float, float]:
    """(mean frame-to-frame change where windows join, mean change elsewhere). A join is every
    step from the frame before a window's start through its `overlap` shared frames; a change
    is the norm of the per-channel difference divided by `scale` (e.g. the channel std)."""
    step = np.linalg.norm(np.diff(values, axis=0) / scale, axis=1)  # step[i]: frame i -> i+1
    joins = np.zeros(len(step), bool)
    for s in starts[1:]:
        joins[max(0, s - 1) : s + overlap] = True
    return float(step[joins].mean()), float(step[~joins].mean())
