"""Real head, brow and gaze motion for the motion prior, from `avatarvid data clips` tracks.

Real talking video has motion but no speech, so it teaches the channels speech does not
determine. Each track is resampled to the prior's frame rate and centred so that its resting
state is the photo's: head and gaze on their median, brows (rig weights >= 0) on their 10th
percentile. Three sets: the training persons' clips are split by time (the last
`val_fraction` of each is validation, it chooses the settings); held-out persons are the test.
Validation persons (the renderer's, `clip_sources`) are left out, so these sets stay as they
were chosen and measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarvid.errors import InputError
from avatarvid.motion.schema import GAZE, HEAD_ROTATION, HEAD_TRANSLATION, MOTION_LAYOUT, Motion

BROWS = ("brow_inner_up", "brow_outer_up_l", "brow_outer_up_r", "brow_down")
PRIOR_CHANNELS = HEAD_ROTATION + HEAD_TRANSLATION + BROWS + GAZE
# a horizontal mirror turns these the other way and swaps left and right
_NEGATED = ("head_yaw", "head_roll", "head_tx", "gaze_x")
_SWAPPED = (("brow_outer_up_l", "brow_outer_up_r"),)


@dataclass
class RealMotion:
    """Per-split lists of (T, len(PRIOR_CHANNELS)) tracks at `fps`."""

    fps: float
    train: list[np.ndarray]
    val: list[np.ndarray]
    test: list[np.ndarray]
    sources: dict[str, list[str]]  # split -> clip ids


def centred(values: np.ndarray) -> np.ndarray:
    """PRIOR_CHANNELS columns of a (T, D) residual track with the resting state at zero."""
    x = values[:, MOTION_LAYOUT.indices(PRIOR_CHANNELS)].astype(np.float32)
    brows = [PRIOR_CHANNELS.index(b) for b in BROWS]
    rest = np.median(x, axis=0)
    rest[brows] = np.percentile(x[:, brows], 10, axis=0)
    x = x - rest
    x[:, brows] = np.maximum(x[:, brows], 0.0)
    return x


def mirrored(x: np.ndarray) -> np.ndarray:
    """The same motion seen in a mirror (a free, equally plausible second person)."""
    y = x.copy()
    for name in _NEGATED:
        y[:, PRIOR_CHANNELS.index(name)] *= -1
    for a, b in _SWAPPED:
        i, j = PRIOR_CHANNELS.index(a), PRIOR_CHANNELS.index(b)
        y[:, [i, j]] = y[:, [j, i]]
    return y


def load_real_motion(root: Path, fps: float, val_fraction: float = 0.15) -> RealMotion:
    """The tracks of a clips folder (`manifest.json`), split by person and time."""
    manifest_path = Path(root) / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(f"no manifest.json in {root}; run `avatarvid data clips --out {root}`")
    manifest = json.loads(manifest_path.read_text())
    out = RealMotion(fps, [], [], [], {"train": [], "val": [], "test": []})
    for clip in manifest["clips"]:
        with np.load(Path(root) / clip["tracks"]) as z:
            values, clip_fps = z["motion"], float(z["fps"])
        n = int(round(len(values) / clip_fps * fps))
        x = centred(Motion(values, clip_fps).resampled(fps, n).values)
        if clip["split"] == "train":
            cut = int(round(len(x) * (1 - val_fraction)))
            out.train.append(x[:cut])
            out.val.append(x[cut:])
            out.sources["train"].append(clip["id"])
            out.sources["val"].append(clip["id"])
        elif clip["split"] == "held_out":
            out.test.append(x)
            out.sources["test"].append(clip["id"])
    if not out.train:
        raise InputError(f"{root} has no training clips")
    return out


def stretched(x: np.ndarray, factor: float) -> np.ndarray:
    """The track played `factor` times slower (linear interpolation per channel)."""
    n = max(2, int(round(len(x) * factor)))
    src = np.linspace(0, len(x) - 1, n)
    return np.stack([np.interp(src, np.arange(len(x)), c) for c in x.T], axis=1).astype(np.float32)


class PriorWindows:
    """Random crops of `length` frames from the training tracks, each also mirrored and played
    at a few speeds (people move at different tempos)."""

    def __init__(self, tracks: list[np.ndarray], length: int, speeds=(0.85, 1.0, 1.2)):
        versions = [stretched(v, s) for t in tracks for v in (t, mirrored(t)) for s in speeds]
        versions = [v for v in versions if len(v) >= length]
        if not versions:
            raise InputError(f"no real track is at least {length} frames long")
        self.motion = np.concatenate(versions)
        offsets = np.cumsum([0] + [len(v) for v in versions[:-1]])
        self.starts = np.concatenate(
            [o + np.arange(len(v) - length + 1) for o, v in zip(offsets, versions, strict=True)]
        )
        self.length = length

    def batch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        idx = rng.choice(self.starts, size)[:, None] + np.arange(self.length)[None]
        return self.motion[idx]
