"""The motion training shard format: utterances of 16 kHz audio with per-frame motion targets.

One .npz per shard (written atomically) holds the utterances concatenated: `audio` int16,
`motion` (frames, MOTION_LAYOUT.dim) float32, offsets into both, and a JSON list of per-utterance
metadata (voice, text, phoneme timings or source video). Synthetic speech and tracked real
videos produce the same format, so one training loop reads both.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarvid.errors import InputError
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.motion.schema import MOTION_LAYOUT


@dataclass
class Clip:
    """One utterance: mono float32 audio at ANALYSIS_RATE and its motion at `fps`."""

    audio: np.ndarray
    motion: np.ndarray
    fps: float
    meta: dict = field(default_factory=dict)


def write_shard(path: Path, clips: list[Clip]) -> None:
    """Writes `clips` to `path` (.npz); a partial file never takes the final name."""
    if not clips:
        raise ValueError("a shard needs at least one clip")
    fps = {c.fps for c in clips}
    if len(fps) != 1:
        raise ValueError(f"all clips of a shard must share one fps, got {sorted(fps)}")
    audio = np.concatenate([np.clip(c.audio, -1, 1) for c in clips])
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as f:
            np.savez(
                f,
                audio=(audio * 32767).astype(np.int16),
                motion=np.concatenate([c.motion for c in clips]).astype(np.float32),
                audio_offsets=np.cumsum([0] + [len(c.audio) for c in clips]),
                frame_offsets=np.cumsum([0] + [len(c.motion) for c in clips]),
                fps=np.float32(fps.pop()),
                rate=np.int32(ANALYSIS_RATE),
                layout=np.array(MOTION_LAYOUT.name),
                version=np.int32(MOTION_LAYOUT.version),
                meta=np.array(json.dumps([c.meta for c in clips])),
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_shard(path: Path) -> list[Clip]:
    """All clips of one shard, checking the motion layout."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["layout"]) != MOTION_LAYOUT.name or int(z["version"]) != MOTION_LAYOUT.version:
                raise InputError(f"{path} was written for another motion layout; rebuild it")
            audio = z["audio"].astype(np.float32) / 32767
            motion, fps = z["motion"], float(z["fps"])
            ao, fo = z["audio_offsets"], z["frame_offsets"]
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{path} is not a motion shard ({e})") from None
    return [
        Clip(audio[ao[i] : ao[i + 1]], motion[fo[i] : fo[i + 1]], fps, meta[i])
        for i in range(len(meta))
    ]


def read_split(root: Path, split: str) -> list[Clip]:
    """Every clip under root/split/*.npz (sorted, so runs are reproducible)."""
    files = sorted((Path(root) / split).glob("*.npz"))
    if not files:
        raise InputError(f"no shards in {Path(root) / split}; run `avatarvid data tts` first")
    return [clip for f in files for clip in read_shard(f)]
