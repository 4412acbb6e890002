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
    m = p.add_argument_group("motion")
    m.add_argument(
        "--motion",
        choices=["procedural", "diffusion"],
        help="motion generator: the audio-to-motion diffusion model (checkpoints/motion) or "
        "the loudness-driven procedural baseline (presets: diffusion)",
    )
    m.add_argument(
        "--audio-guidance", type=float, help="diffusion: audio guidance scale (1 = off; 1.5)"
    )
    m.add_argument("--motion-steps", type=int, help="diffusion: DPM-Solver++ steps (10)")
    m.add_argument(
        "--expressiveness", type=float, help="scale of facial expressions, 0..2 (1 = as trained)"
    )
    m.add_argument("--head-motion", type=float, help="scale of head motion, 0..3 (1 = natural)")
    p.add_argument(
        "--sr",
        choices=["none", "bicubic", "fast", "diffusion"],
        help="super-resolution: render at --size / sr.scale (preset) and upscale; none renders "
        "at --size directly (preset: none)",
    )
    p.add_argument(
        "--renderer",
        choices=["warp", "diffusion"],
        help="warp: the photo warped to the motion; diffusion: the warp refined by the "
        "temporal diffusion renderer (checkpoints/renderer; slower)",
    )
    d = p.add_argument_group("diffusion renderer (with --renderer diffusion)")
    d.add_argument("--steps", type=int, help="denoising steps (preset: 2)")
    d.add_argument(
        "--strength",
        type=float,
        help="0 = the warp exactly ... 1 = generated from noise (preset: 1)",
    )
    d.add_argument("--guidance", type=float, help="classifier-free guidance scale (1 = off)")
    d.add_argument(
        "--samples", type=int, help="samples averaged per frame (less noise, more cost; preset: 4)"
    )
    d.add_argument("--window", type=int, help="frames the network sees at once (preset: 8)")
    d.add_argument("--overlap", type=int, help="frames shared by windows, averaged (preset: 2)")
    d.add_argument(
        "--known", type=int, help="frames carried into the next chunk as known (preset: 2)"
    )
    d.add_argument("--chunk", type=int, help="frames denoised together (preset: 14)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.config.settings import load_config
    from avatarvid.pipelines.vlog import VlogRequest, check_paths, render_vlog

    config = load_config(args.preset, fps=args.fps, size=args.size, crop=args.crop, seed=args.seed)
    diffusion = {
        k: getattr(args, k)
        for k in ("steps", "strength", "guidance", "samples", "window", "overlap", "known", "chunk")
        if getattr(args, k) is not None
    }
    if args.renderer is not None or diffusion:
        config = load_config(
            args.preset,
            **config.model_dump(exclude={"renderer", "diffusion"}),
            renderer=args.renderer or config.renderer,
            diffusion={**config.diffusion.model_dump(), **diffusion},
        )
    if args.sr is not None:
        config = config.model_copy(update={"sr": config.sr.model_copy(update={"mode": args.sr})})
    motion = {
        k: v
        for k, v in (
            ("generator", args.motion),
            ("audio_guidance", args.audio_guidance),
            ("steps", args.motion_steps),
            ("expressiveness", args.expressiveness),
            ("head_motion", args.head_motion),
        )
        if v is not None
    }
    if motion:
        config = load_config(
            args.preset,
            **config.model_dump(exclude={"motion"}),
            motion={**config.motion.model_dump(), **motion},
        )
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
