"""Real reference guides for SR training: another moment of the same face video, warped onto
each frame by the face mesh exactly as `upscale --reference` does (`stages/sr_guide.py`).

A synthetic guide (the true frame displaced) teaches the network to copy a guide that agrees;
only a real reference of another moment (other expression, pose, lighting, blur) teaches it
which of the guide's details survive the warp. Guides are computed once per run of frames,
tracked on the bicubic upscaling of the area-downscaled frames (the input inference tracks on).
"""

from __future__ import annotations

import cv2
import numpy as np

from avatarvid.errors import NoFaceError
from avatarvid.stages.sr_guide import ReferenceGuide


def reference_guides(
    run: np.ndarray, reference: np.ndarray, scale: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(guides uint8 (T, H, W, 3), masks uint8 (T, H, W) in 1/255: the face weighted by the
    guide's confidence) for the frames of `run`, or None when the reference shows no face;
    frames without a tracked face get an empty mask."""
    t, h, w = run.shape[:3]
    try:
        guide = ReferenceGuide(reference, scale=scale)
    except NoFaceError:
        return None
    guides = np.zeros_like(run)
    masks = np.zeros((t, h, w), np.uint8)
    with guide:
        for i, frame in enumerate(run):
            low = cv2.resize(frame, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
            g, m = guide(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC))
            if g is not None and m is not None:
                guides[i], masks[i] = g, np.rint(m * 255)
    return guides, masks


def run_guides(
    runs: np.ndarray, scale: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per run of a face video, guides from a frame of another run (a different moment); a
    video read as one run takes its reference half the run away."""
    out = []
    count, length = runs.shape[:2]
    for r in range(count):
        if count > 1:
            other = (r + int(rng.integers(1, count))) % count
            reference = runs[other, int(rng.integers(length))]
        else:
            reference = runs[r, (int(rng.integers(length)) + length // 2) % length]
        out.append(reference_guides(runs[r], reference, scale))
    return out


def block_mean(mask: np.ndarray, scale: int) -> np.ndarray:
    """(T, H, W) uint8 mask in 1/255 -> (T, H/s, W/s, 1) float32 coverage on the low-res
    grid."""
    t, h, w = mask.shape
    blocks = mask.reshape(t, h // scale, scale, w // scale, scale).astype(np.float32)
    return blocks.mean(axis=(2, 4))[..., None] / 255
