"""`avatarvid data videos`: real talking-head videos -> motion training shards."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avatarvid.errors import InputError
from avatarvid.pipelines.paths import check_output_parent

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "videos",
        help="talking-head videos -> tracked motion shards",
        description="Track the face in every video of --in (mediapipe, expression-rig fit "
        "relative to the first frame with a face) and write audio + per-frame residuals to "
        "--out/SPLIT/shard-*.npz, the format `avatarvid data tts` writes.",
    )
    p.add_argument("--in", dest="inp", required=True, type=Path, help="folder of videos")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--split", default="train", choices=["train", "val", "test"])
    p.add_argument("--fps", type=float, default=25.0, help="motion frame rate")
    p.add_argument("--per-shard", type=int, default=50, help="videos per shard")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.data.shards import write_shard
    from avatarvid.data.video_tracks import track_video

    if not args.inp.is_dir():
        raise InputError(f"input folder {args.inp} does not exist")
    videos = sorted(p for p in args.inp.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise InputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {args.inp}")
    check_output_parent(args.out)
    clips, skipped = [], []
    for video in videos:
        try:
            clips.append(track_video(video, args.fps))
        except InputError as e:  # one bad video should not stop a folder of good ones
            log.warning("skipping %s", e)
            skipped.append(video)
    if not clips:
        raise InputError(f"none of the {len(videos)} videos in {args.inp} gave a tracked face")
    (args.out / args.split).mkdir(parents=True, exist_ok=True)
    for i in range(0, len(clips), args.per_shard):
        write_shard(
            args.out / args.split / f"shard-{i // args.per_shard:05d}.npz",
            clips[i : i + args.per_shard],
        )
    print(f"wrote {len(clips)} tracked videos to {args.out / args.split} ({len(skipped)} skipped)")
    return 0
