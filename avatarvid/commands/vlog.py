"""`avatarvid vlog`: photo + speech audio -> talking video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "vlog",
        help="photo + speech audio -> talking video",
        description="Render an mp4 of the person in --image speaking --audio (lip sync, blinks, "
        "head motion; H.264 + AAC).",
        epilog="example: avatarvid vlog --image examples/astronaut.png "
        "--audio examples/speech.wav -o demo.mp4",
    )
    p.add_argument("--image", required=True, type=Path, help="photo with a face (any format)")
    p.add_argument(
        "--audio",
        required=True,
        type=Path,
        help="speech: wav/mp3/m4a/ogg/flac, or a video whose audio track to use",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="output .mp4 path")
    p.add_argument(
        "--preset",
        default="default",
        help="settings preset: fast, default, quality (configs/*.yaml) or a YAML path",
    )
    p.add_argument("--fps", type=float, help="frames per second (preset: 25)")
    p.add_argument(
        "--size",
        type=int,
        help="output size in pixels: the square side with --crop face, the long side "
        "with --crop full (preset: 256)",
    )
    p.add_argument(
        "--crop",
        choices=["face", "full"],
        help="face: square crop centred on the face; full: the whole photo",
    )
    p.add_argument("--seed", type=int, help="random seed for motion (same seed, same video)")
    p.add_argument(
        "--face-index",
        type=int,
        help="which face to animate when the photo has several (0 = largest)",
    )
    p.add_argument("--motion-in", type=Path, help="use this motion .npz instead of the audio's")
    p.add_argument("--motion-out", type=Path, help="also save the motion as .npz (editable)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.config import load_config
    from avatarvid.pipelines.vlog import VlogRequest, check_paths, render_vlog

    config = load_config(args.preset, fps=args.fps, size=args.size, crop=args.crop, seed=args.seed)
    request = VlogRequest(
        args.image,
        args.audio,
        args.output,
        config,
        args.face_index,
        args.motion_in,
        args.motion_out,
    )
    check_paths(request)
    result = render_vlog(request, progress=not args.quiet and sys.stderr.isatty())
    if not args.quiet:
        print(
            f"wrote {result.output} ({result.num_frames} frames, {result.fps:g} fps, "
            f"{result.audio_seconds:.2f} s)"
        )
    return 0
