"""`avatarvid upscale`: any video -> x2 / x4 with the SR cascade (audio passed through)."""

from __future__ import annotations

import argparse
from pathlib import Path

from avatarvid.commands.options import ProgressBar, add_device, overrides

# argparse dest -> the settings field it overrides (config/settings.py: UpscaleConfig)
FLAGS = {
    "device": "device",
    "scale": "scale",
    "sr": "sr",
    "steps": "steps",
    "max_memory": "max_memory",
}


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
    p.add_argument("--scale", type=int, help="2 (default) or 4 (two x2 stages)")
    p.add_argument("--reference", type=Path, help="full-resolution photo of the face in it")
    p.add_argument(
        "--sr", choices=["fast", "diffusion"], help="one-pass (fast, default) or few-step model"
    )
    p.add_argument("--steps", type=int, help="diffusion steps (--sr diffusion; default 4)")
    p.add_argument(
        "--max-memory",
        type=int,
        metavar="MB",
        help="working memory of the SR network (default 900): large frames are upscaled in "
        "shorter windows and spatial tiles, with the same result",
    )
    add_device(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.api import run_upscale
    from avatarvid.config.load import load_settings
    from avatarvid.config.settings import UpscaleConfig

    values, flags = overrides(args, FLAGS)
    config = load_settings(UpscaleConfig, None, values, flags=flags)
    with ProgressBar(args.quiet) as bar:
        result = run_upscale(args.video, args.output, config, args.reference, progress=bar)
    if not args.quiet:
        print(f"wrote {result.path} ({result.frames} frames, x{config.scale})")
    return 0
