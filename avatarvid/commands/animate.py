"""`avatarvid animate`: reference image + driving video -> the reference moving like the driver."""

from __future__ import annotations

import argparse
from pathlib import Path

from avatarvid.commands.options import ProgressBar, add_device, overrides

# argparse dest -> the settings field it overrides (config/settings.py: AnimateConfig)
FLAGS = {
    "device": "device",
    "mode": "mode",
    "retarget": "retarget",
    "renderer": "renderer",
    "sr": "sr.mode",
    "size": "size",
    "fps": "fps",
    "seed": "seed",
}


def register(sub) -> None:
    p = sub.add_parser(
        "animate",
        help="reference image + driving pose video -> animation",
        description="Render an mp4 of the person in --image following the body (or, for a "
        "head-and-shoulders photo, the face) of the person in --drive, keeping the image's "
        "identity, proportions and background.",
        epilog="example: avatarvid animate --image me.jpg --drive dance.mp4 -o me_dancing.mp4",
    )
    p.add_argument("--image", required=True, type=Path, help="reference photo of one person")
    p.add_argument("--drive", required=True, type=Path, help="driving video of one person")
    p.add_argument("-o", "--output", required=True, type=Path, help="output .mp4 path")
    p.add_argument(
        "--mode",
        choices=["auto", "body", "face"],
        help="body: full pose; face: face reenactment of a portrait; auto (default): face "
        "when the photo shows only head and shoulders",
    )
    p.add_argument(
        "--retarget",
        choices=["relative", "absolute"],
        help="relative (default): the driver's motion since its first frame added to the "
        "photo's pose; absolute: the driver's pose itself, at the photo's bone lengths",
    )
    p.add_argument(
        "--renderer",
        choices=["warp", "diffusion"],
        help="warp (default); diffusion: the warp with its face box refined by the temporal "
        "diffusion renderer (checkpoints/renderer/distilled: one network pass per frame; settings "
        "from --preset; the body stays the warp's)",
    )
    p.add_argument(
        "--sr",
        choices=["none", "bicubic", "fast", "diffusion"],
        help="super-resolution: render at --size / sr.scale (from --preset) and upscale; none "
        "(default) renders at --size directly",
    )
    p.add_argument(
        "--preset",
        default="default",
        help="settings preset for the diffusion renderer and SR (its diffusion: and sr: "
        "sections; a shipped name or a YAML path)",
    )
    p.add_argument("--size", type=int, help="long side of the output (default 512)")
    p.add_argument("--fps", type=float, help="output frame rate (default: the driver's)")
    p.add_argument("--seed", type=int, help="random seed (diffusion renderer; default 0)")
    p.add_argument("--audio", type=Path, help="audio to mux instead of the driver's own")
    p.add_argument(
        "--motion-out", type=Path, help="also save the face motion (its rig channels) as .npz"
    )
    p.add_argument(
        "--person",
        type=float,
        nargs=2,
        metavar=("X", "Y"),
        help="the driver's person to follow: a point on them in its first frame (pixels); "
        "default: the most clearly detected person",
    )
    add_device(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.api import run_animate
    from avatarvid.config.load import load_settings
    from avatarvid.config.settings import ANIMATE_PRESET_KEYS, AnimateConfig

    values, flags = overrides(args, FLAGS)
    config = load_settings(
        AnimateConfig, args.preset, values, flags=flags, preset_keys=ANIMATE_PRESET_KEYS
    )
    with ProgressBar(args.quiet) as bar:
        result, mode = run_animate(
            args.image,
            args.drive,
            args.output,
            config,
            audio=args.audio,
            motion_out=args.motion_out,
            person=None if args.person is None else tuple(args.person),
            progress=bar,
        )
    if not args.quiet:
        print(f"wrote {result.path} ({mode} mode, {result.frames} frames, {result.fps:g} fps)")
    return 0
