"""`avatarvid vlog`: photo + speech audio -> talking video."""

from __future__ import annotations

import argparse
from pathlib import Path

from avatarvid.commands.options import ProgressBar, add_device, overrides

DIFFUSION_FLAGS = (
    "steps", "strength", "guidance", "samples", "window", "overlap", "known", "chunk",
)  # fmt: skip


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
        help="face: square crop round the face, inside the photo; full: the whole photo",
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
    m.add_argument("--motion-steps", type=int, help="diffusion: DPM-Solver++ steps (4)")
    m.add_argument(
        "--head-style",
        choices=["real", "speech"],
        help="diffusion: real = head, brows and gaze from the prior trained on real talking "
        "video; speech = the audio model's own (preset: real)",
    )
    m.add_argument(
        "--expressiveness",
        type=float,
        help="scale of brows and smiles, 0..2 (1 = as trained; the lips speak at any scale)",
    )
    m.add_argument("--head-motion", type=float, help="scale of head motion, 0..3 (1 = natural)")
    m.add_argument("--blink-rate", type=float, help="blinks per minute, 0..60 (preset: 17)")
    m.add_argument(
        "--gaze",
        choices=["camera", "free"],
        help="camera = eyes held on the camera (the photo's gaze); free = as generated",
    )
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
        "temporal diffusion renderer (checkpoints/renderer/distilled: one network pass per "
        "frame; slower)",
    )
    d = p.add_argument_group(
        "diffusion renderer (with --renderer diffusion; a distilled checkpoint, the default, "
        "ignores --steps, --guidance, --samples)"
    )
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
    add_device(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# argparse dest -> the settings field it overrides (config/settings.py: VlogConfig)
FLAGS = {
    "device": "device",
    "fps": "fps",
    "size": "size",
    "crop": "crop",
    "seed": "seed",
    "renderer": "renderer",
    "sr": "sr.mode",
    "motion": "motion.generator",
    "audio_guidance": "motion.audio_guidance",
    "motion_steps": "motion.steps",
    "expressiveness": "motion.expressiveness",
    "head_motion": "motion.head_motion",
    "head_style": "motion.head_style",
    "blink_rate": "motion.blinks_per_minute",
    "gaze": "motion.gaze_mode",
    **{k: f"diffusion.{k}" for k in DIFFUSION_FLAGS},
}


def run(args: argparse.Namespace) -> int:
    from avatarvid.api import run_vlog
    from avatarvid.config.load import load_settings
    from avatarvid.config.settings import VlogConfig

    values, flags = overrides(args, FLAGS)
    config = load_settings(VlogConfig, args.preset, values, flags=flags)
    with ProgressBar(args.quiet) as bar:
        result = run_vlog(
            args.image,
            args.audio,
            args.output,
            config,
            face_index=args.face_index,
            motion_in=args.motion_in,
            motion_out=args.motion_out,
            progress=bar,
        )
    if not args.quiet:
        print(
            f"wrote {result.path} ({result.frames} frames, {result.fps:g} fps, "
            f"{result.seconds:.2f} s)"
        )
    return 0
