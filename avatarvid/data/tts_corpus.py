"""The synthetic speech corpus: espeak-ng voices x rates x pitches x texts -> motion shards.

Voices are split by variant (the timbre), so the validation and test splits hold voices the
model never heard in training, and each split draws its texts from its own random stream.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from avatarvid.data.espeak import Espeak
from avatarvid.data.shards import Clip, write_shard
from avatarvid.data.texts import paragraph
from avatarvid.data.visemes import motion_targets
from avatarvid.media.audio import ANALYSIS_RATE

ACCENTS = (
    "en",
    "en-us",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
SPLIT_VARIANTS = {
    "train": (
        "m1",
        "m2",
        "m4",
        "m5",
        "m7",
        "m8",
        "f1",
        "f3",
        "f5",
        "klatt",
        "klatt2",
        "klatt4",
        "croak",
        "Alex",
        "Annie",
        "Denis",
        "Gene",
        "Lee",
        "Mike",
        "Storm",
        "belinda",
        "david",
        "john",
        "max",
        "paul",
        "steph",
    ),
    "val": ("m3", "f2", "linda"),
    "test": ("m6", "f4", "klatt3", "Andy", "edward", "grandma"),
}
SPLIT_SEED = {"train": 0, "val": 1_000_003, "test": 2_000_029}
FPS = 25.0


@dataclass(frozen=True)
class ShardJob:
    path: Path
    split: str
    seed: int
    seconds: float


def synth_clip(rng: np.random.Generator, split: str, fps: float = FPS, min_words: int = 8) -> Clip:
    """One random utterance of `split`'s voices, resampled to ANALYSIS_RATE, with its targets."""
    voice = f"{rng.choice(ACCENTS)}+{rng.choice(SPLIT_VARIANTS[split])}"
    rate_wpm, pitch, range_ = (
        int(rng.integers(120, 260)),
        int(rng.integers(20, 80)),
        int(rng.integers(10, 90)),
    )
    text = paragraph(rng, min_words)
    utt = Espeak().synth(text, voice, rate_wpm, pitch, range_)
    audio = soxr.resample(utt.audio, utt.rate, ANALYSIS_RATE).astype(np.float32)
    motion = motion_targets(audio, ANALYSIS_RATE, utt.phones, fps, rng, text.endswith("?"))
    meta = {
        "voice": voice,
        "rate": rate_wpm,
        "pitch": pitch,
        "range": range_,
        "text": text,
        "phones": [[p.name, round(p.start, 4), round(p.end, 4)] for p in utt.phones],
    }
    return Clip(audio, motion.values, fps, meta)


def build_shard(job: ShardJob) -> tuple[Path, float, int]:
    """Synthesises utterances until the shard holds `job.seconds` of audio."""
    rng = np.random.default_rng(job.seed)
    clips: list[Clip] = []
    total = 0.0
    while total < job.seconds:
        clips.append(synth_clip(rng, job.split))
        total += len(clips[-1].audio) / ANALYSIS_RATE
    write_shard(job.path, clips)
    return job.path, total, len(clips)


def plan(out: Path, hours: float, shard_seconds: float = 600.0) -> list[ShardJob]:
    """Shards for train (hours), val (5 %) and test (10 %, at least one minute each)."""
    jobs = []
    for split, share in (("train", 1.0), ("val", 0.05), ("test", 0.10)):
        seconds = max(hours * 3600 * share, 60.0 if split != "train" else 1.0)
        count = max(1, int(np.ceil(seconds / shard_seconds)))
        (out / split).mkdir(parents=True, exist_ok=True)
        jobs += [
            ShardJob(
                out / split / f"shard-{i:05d}.npz", split, SPLIT_SEED[split] + i, seconds / count
            )
            for i in range(count)
        ]
    return jobs


def build_corpus(out: Path, hours: float, workers: int = 1) -> list[tuple[Path, float, int]]:
    """Builds every missing shard of the corpus (existing ones are kept: the command resumes)."""
    jobs = [j for j in plan(out, hours) if not j.path.exists()]
    if workers <= 1:
        return [build_shard(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(build_shard, jobs))
