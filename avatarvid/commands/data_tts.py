"""`avatarvid data tts`: synthesise a speech corpus with phoneme-exact motion targets."""

from __future__ import annotations

import argparse
from pathlib import Path

from avatarvid.errors import InputError


def register(sub) -> None:
    p = sub.add_parser(
        "tts",
        help="espeak-ng speech corpus with phoneme-timed motion targets",
        description="Synthesise varied speech (espeak-ng voices, rates, pitches, texts) and its "
        "motion targets into DIR/{train,val,test}/shard-*.npz; val/test use held-out voices. "
        "Existing shards are kept, so an interrupted run resumes.",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--hours", type=float, default=1.0, help="hours of training speech")
    p.add_argument("--workers", type=int, default=1, help="parallel synthesis processes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.data.tts_corpus import build_corpus

    if not 0 < args.hours <= 1000:
        raise InputError("--hours must be in (0, 1000]")
    done = build_corpus(args.out, args.hours, max(1, args.workers))
    seconds = sum(s for _, s, _ in done)
    print(
        f"wrote {len(done)} shards ({seconds / 3600:.2f} h, "
        f"{sum(n for _, _, n in done)} utterances) to {args.out}"
    )
    return 0
