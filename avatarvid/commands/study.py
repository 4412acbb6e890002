"""`avatarvid study NAME [ARGS]`: run one of the studies behind the README's numbers.

Each study is a module `avatarvid.evaluate.studies.NAME` with `main(argv) -> int`; it is imported
only when run, so listing them here keeps the CLI start light (no torch).
"""

from __future__ import annotations

import argparse
import importlib

PACKAGE = "avatarvid.evaluate.studies"

# name -> what it measures (one line for `avatarvid study --help`)
STUDIES: dict[str, str] = {
    "bench_animate": "`animate` on any driver: PCK, motion, foot sliding, background, frozen",
    "bench_renderer": "renderer U-Net vs diffusers' UNet3DConditionModel: speed at equal size",
    "bench_sr": "frames per second of the SR models (fast, diffusion; x2, x4)",
    "diagnose_renderer": "why the diffusion renderer beats the warp or not (bias, noise, settings)",
    "eval_animate": "pose following (PCK) of `animate` on the synthetic driver (known joints)",
    "eval_animate_scene": "body warp on the synthetic prop scenes: props, plate, matte, background",
    "eval_motion": "held-out motion model scores: procedural vs untrained vs trained",
    "eval_motion_prior": "real-motion prior vs real head/brow/gaze tracks (validation, test)",
    "eval_motion_real": "`avatarvid eval` of renders vs real talking video: head, jitter, blinks",
    "eval_motion_videos": "`avatarvid eval` lip sync of rendered held-out speech per motion source",
    "eval_reenact": "`animate --mode face` transfer: eyes, mouth, brows, gaze vs the driver",
    "eval_self_reenact": "self-reenactment on a real talking video: frozen vs warp vs diffusion",
    "eval_sr": "held-out SR checkpoints: PSNR/SSIM/flicker on real footage, guided faces",
    "eval_sr_heldout": "SR on held-out real clips via H.264: PSNR-Y/SSIM/luma/flicker, guidance",
    "make_examples": "rebuild the bundled example photo and speech (espeak-ng)",
    "measure_renderer": "diffusion renderer vs warp on a real photo: eval metrics, seams, speed",
    "measure_sr_vlog": "warp at full size vs warp at low size + SR for `vlog --size 512`",
}


def register(sub) -> None:
    listing = "\n".join(f"  {name:20} {what}" for name, what in STUDIES.items())
    p = sub.add_parser(
        "study",
        help="run a study behind the README's numbers",
        description="Run one study (`avatarvid study NAME --help` for its options); also "
        f"`python -m {PACKAGE}.NAME`.",
        epilog=f"studies:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=sorted(STUDIES), metavar="NAME", help="which study")
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the study")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    study = importlib.import_module(f"{PACKAGE}.{args.name}")
    return study.main(args.args)
