"""Training windows for the motion denoiser, drawn from shards.

Features are computed once per clip for the clean audio and for `augment_copies` augmented
versions (each clip heard through different noise / rooms / bands), then random crops of
context + window frames are cut from them; a crop never crosses a clip boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarvid.data.augment import augment
from avatarvid.data.shards import Clip
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.motion.audio_features import frame_features


@dataclass
class WindowBank:
    """All clips' features and motion concatenated, with the crop starts that are valid."""

    features: np.ndarray
    motion: np.ndarray
    starts: np.ndarray
    length: int

    @classmethod
    def build(cls, clips: list[Clip], length: int, augment_copies: int, seed: int) -> WindowBank:
        rng = np.random.default_rng(seed)
        feats, motions, starts = [], [], []
        offset = 0
        for clip in clips:
            n = len(clip.motion)
            if n < length:
                continue
            versions = [clip.audio] + [
                augment(clip.audio, ANALYSIS_RATE, rng) for _ in range(augment_copies)
            ]
            for audio in versions:
                feats.append(frame_features(audio, clip.fps, n))
                motions.append(clip.motion)
                starts.append(offset + np.arange(n - length + 1))
                offset += n
        if not feats:
            raise ValueError(f"no clip is at least {length} frames long")
        return cls(np.concatenate(feats), np.concatenate(motions), np.concatenate(starts), length)

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(features (size, length, F), motion (size, length, D)) random crops."""
        idx = rng.choice(self.starts, size)[:, None] + np.arange(self.length)[None]
        return self.features[idx], self.motion[idx]
