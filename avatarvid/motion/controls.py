"""User controls applied to a generated motion track, whichever generator made it.

The diffusion model has no blink-rate or gaze input, so these act on its output: blinks are
re-timed to the requested rate (each new blink snaps to one the model made when one is near, so
learned timing survives where it agrees), and "camera" gaze holds the gaze residuals at zero,
i.e. at the reference photo's gaze, which for a portrait looks into the camera.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from avatarvid.motion.procedural import sample_blinks
from avatarvid.motion.schema import GAZE, Motion

GazeMode = Literal["camera", "free"]
BLINK_CLOSED = 0.5  # rig weight above which the eye counts as closed


def blink_onsets(curve: np.ndarray, threshold: float = BLINK_CLOSED) -> np.ndarray:
    """Frames where a blink channel rises above `threshold` (one per blink)."""
    closed = curve > threshold
    return np.flatnonzero(closed & ~np.concatenate([[False], closed[:-1]]))


def retime_blinks(motion: Motion, per_minute: float, seed: int = 0) -> Motion:
    """Blink channels replaced by `per_minute` blinks (gamma intervals), pulled to the motion's
    own blinks where one is within 0.6 s; 0 removes every blink."""
    rng = np.random.default_rng(seed)
    own = np.zeros(motion.num_frames, bool)
    own[blink_onsets(np.maximum(motion["blink_l"], motion["blink_r"]))] = True
    curve = sample_blinks(rng, motion.num_frames, motion.fps, per_minute, own)
    out = Motion(motion.values.copy(), motion.fps)
    out["blink_l"] = curve
    out["blink_r"] = curve * rng.uniform(0.95, 1.0)
    return out


def hold_gaze(motion: Motion, mode: GazeMode) -> Motion:
    """Gaze residuals held at zero (the photo's gaze) for "camera"; as generated for "free"."""
    if mode == "free":
        return motion
    out = Motion(motion.values.copy(), motion.fps)
    for name in GAZE:
        out[name] = 0.0
    return out
