"""Diffusion renderer vs warp on real photos and speech: eval metrics, window seams, speed.

    avatarvid study measure_renderer [--image P ...] [--audio A ...] [--seconds 20]
                                     [--size 256] [--json out.json]

For every photo x speech clip (each clip looped or cut to --seconds), renders the same motion
(same seed) with `--preset default` (warp) and `--preset diffusion`, runs `avatarvid eval` on
both, and measures seams: the mean absolute frame-to-frame change inside the face box at chunk
boundaries (the first new frame of each chunk) vs everywhere else. A seam ratio near 1 means
the boundaries are invisible in the motion statistics. Prints one table row per photo, clip
and renderer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avatarvid.assets import examples_dir
from avatarvid.cli import main as cli
from avatarvid.config.load import load_config
from avatarvid.evaluate.bench import write_looped_speech
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader
from avatarvid.pipelines.vlog import prepare_reference
from avatarvid.warp.controls import crop, face_box


def seam_stats(frames: np.ndarray, box: np.ndarray, chunk: int, known: int) -> dict[str, float]:
    crops = np.stack([crop(f, box, 64).astype(np.float32) for f in frames])
    diff = np.abs(np.diff(crops, axis=0)).mean(axis=(1, 2, 3))  # diff[i]: frame i -> i + 1
    starts = set(range(chunk, len(frames), chunk - known))  # first new frame of each chunk
    seam = np.array([i + 1 in starts for i in range(len(diff))])
    return {
        "seam_mean": round(float(diff[seam].mean()), 3),
        "inside_mean": round(float(diff[~seam].mean()), 3),
        "ratio": round(float(diff[seam].mean() / diff[~seam].mean()), 3),
        "seams": int(seam.sum()),
    }


def measure_pair(image: Path, audio: Path, seconds: float, size: int, tmp: Path) -> dict:
    """preset -> frames/s, eval report and seam statistics of one photo speaking one clip."""
    wav = tmp / "speech.wav"
    write_looped_speech(audio, seconds, wav)
    cfg = load_config("diffusion", size=size)
    _, landmarks = prepare_reference(load_image(image), cfg, None)
    box = face_box(landmarks)
    out = {}
    for preset in ("default", "diffusion"):
        video, report = tmp / f"{preset}.mp4", tmp / f"{preset}.json"
        start = time.perf_counter()
        cli(["vlog", "--image", str(image), "--audio", str(wav), "-o", str(video),
             "--preset", preset, "--size", str(size), "-q"])  # fmt: skip
        wall = time.perf_counter() - start
        cli(["eval", "--video", str(video), "--reference", str(image), "--audio", str(wav),
             "--json", str(report)])  # fmt: skip
        frames = np.stack(list(VideoReader(video).frames()))
        out[preset] = {
            "fps": round(len(frames) / wall, 2),
            "eval": json.loads(report.read_text()),
            "seams": seam_stats(frames, box, cfg.diffusion.chunk, cfg.diffusion.known),
        }
    return out


def summary_row(name: str, preset: str, row: dict) -> str:
    e = row["eval"]
    return (
        f"{name:40s} {preset:9s} identity {e['identity_similarity']:.3f}  sharpness "
        f"{e['face_sharpness']:7.1f}  phoneme sync {e['phoneme_sync_corr']:.3f}  jitter "
        f"{e['jitter']:.4f}  seams {row['seams']['ratio']:.2f}  {row['fps']:.1f} fps"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="avatarvid study measure_renderer", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--image", type=Path, nargs="+", default=[examples_dir() / "astronaut.png"])
    ap.add_argument("--audio", type=Path, nargs="+", default=[examples_dir() / "speech.wav"])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for image in args.image:
            for audio in args.audio:
                name = f"{image.name} | {audio.name}"
                out[name] = measure_pair(image, audio, args.seconds, args.size, Path(tmp))
                for preset, row in out[name].items():
                    print(summary_row(name, preset, row), flush=True)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
