"""`avatarvid upscale`: any video -> x2 / x4 with the SR cascade (audio passed through)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale any video x2 / x4 with the super-resolution model",
        description="Upscale --video by --scale with the trained SR network, optionally guided "
        "by a full-resolution photo of the person (--reference); audio is kept.",
        epilog="example: avatarvid upscale --video small.mp4 -o big.mp4 --scale 2 "
        "--reference me.jpg",
    )
    p.add_argument("--video", required=True, type=Path, help="input video (any format)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output .mp4 path")
    p.add_argument("--scale", type=int, default=2, help="2 or 4 (4 = two x2 stages)")
    p.add_argument("--reference", type=Path, help="full-resolution photo of the face in it")
    p.add_argument(
        "--sr", default="fast", choices=["fast", "diffusion"], help="one-pass or few-step model"
    )
    p.add_argument("--steps", type=int, default=4, help="diffusion steps (--sr diffusion)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.errors import InputError
    from avatarvid.pipelines.upscale import UpscaleRequest, upscale_video

    if args.reference is not None and not args.reference.is_file():
        raise InputError(f"reference image {args.reference} does not exist")
    if not 1 <= args.steps <= 50:
        raise InputError(f"--steps must be in 1..50, got {args.steps}")
    request = UpscaleRequest(
        args.video, args.output, args.scale, args.reference, args.sr, args.steps
    )
    frames = upscale_video(request, progress=not args.quiet and sys.stderr.isatty())
    if not args.quiet:
        print(f"wrote {args.output} ({frames} frames, x{args.scale})")
    return 0
