"""`avatarvid animate`: reference image + driving video -> the reference moving like the driver."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
        default="auto",
        help="body: full pose; face: face reenactment of a portrait; auto (default): face "
        "when the photo shows only head and shoulders",
    )
    p.add_argument(
        "--retarget",
        choices=["relative", "absolute"],
        default="relative",
        help="relative (default): the driver's motion since its first frame added to the "
        "photo's pose; absolute: the driver's pose itself, at the photo's bone lengths",
    )
    p.add_argument(
        "--renderer",
        choices=["warp", "diffusion"],
        default="warp",
        help="warp (default); diffusion: the warp with its face box refined by the temporal "
        "diffusion renderer (checkpoints/renderer, settings from --preset; the body stays the "
        "warp's)",
    )
    p.add_argument(
        "--sr",
        choices=["none", "bicubic", "fast", "diffusion"],
        default="none",
        help="super-resolution: render at --size / sr.scale (from --preset) and upscale; none "
        "(default) renders at --size directly",
    )
    p.add_argument(
        "--preset",
        default="default",
        help="settings preset for the diffusion renderer and SR (configs/*.yaml or a YAML path)",
    )
    p.add_argument("--size", type=int, default=512, help="long side of the output (default 512)")
    p.add_argument("--fps", type=float, help="output frame rate (default: the driver's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (diffusion renderer)")
    p.add_argument("--audio", type=Path, help="audio to mux instead of the driver's own")
    p.add_argument("--motion-out", type=Path, help="also save the face motion as .npz")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.pipelines.animate import AnimateRequest, check_request, render_animate

    request = AnimateRequest(
        image=args.image,
        drive=args.drive,
        output=args.output,
        mode=args.mode,
        retarget=args.retarget,
        renderer=args.renderer,
        sr=args.sr,
        preset=args.preset,
        size=args.size,
        fps=args.fps,
        seed=args.seed,
        audio=args.audio,
        motion_out=args.motion_out,
    )
    check_request(request)
    result = render_animate(request, progress=not args.quiet and sys.stderr.isatty())
    if not args.quiet:
        print(
            f"wrote {result.output} ({result.mode} mode, {result.num_frames} frames, "
            f"{result.fps:g} fps)"
        )
    return 0
