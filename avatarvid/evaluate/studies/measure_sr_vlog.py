"""Warp at full resolution vs warp at low resolution + SR, for `vlog --size 512`.

Renders the same photo, speech and motion with each setting, then measures the output with
`avatarvid eval` (face detected, identity proxy, face sharpness: variance of the Laplacian of
the aligned face crop; higher = more fine detail) and frames per second.

usage: avatarvid study measure_sr_vlog [--seconds 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from avatarvid.assets import examples_dir
from avatarvid.config.load import load_config
from avatarvid.evaluate.bench import write_looped_speech
from avatarvid.evaluate.report import evaluate_talking_video
from avatarvid.pipelines.vlog import VlogRequest, render_vlog

SETTINGS = {  # name -> (sr mode, sr scale)
    "warp@512": ("none", 2),
    "warp@256+bicubic": ("bicubic", 2),
    "warp@256+fast": ("fast", 2),
    "warp@128+fast+fast": ("fast", 4),
    "warp@256+diffusion": ("diffusion", 2),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatarvid study measure_sr_vlog")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--only", nargs="*", default=list(SETTINGS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    image, results = examples_dir() / "astronaut.png", {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        write_looped_speech(examples_dir() / "speech.wav", args.seconds, wav)
        for name in args.only:
            mode, scale = SETTINGS[name]
            config = load_config(args.preset, size=args.size)
            config = config.model_copy(
                update={"sr": config.sr.model_copy(update={"mode": mode, "scale": scale})}
            )
            out = Path(tmp) / f"{name}.mp4"
            start = time.perf_counter()
            result = render_vlog(VlogRequest(image, wav, out, config))
            wall = time.perf_counter() - start
            report = evaluate_talking_video(out, image, wav)
            results[name] = {
                "fps": round(result.num_frames / wall, 2),
                "stages_s": result.timings,
                "face_fraction": report.face_fraction,
                "identity": round(report.identity_similarity, 4),
                "sharpness": round(report.face_sharpness, 1),
                "lipsync_corr": round(report.lipsync_corr, 3),
            }
            print(name, json.dumps(results[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
