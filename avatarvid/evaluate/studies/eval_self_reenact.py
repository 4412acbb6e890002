"""Self-reenactment on any real talking-face video: frozen photo vs warp vs diffusion renderer.

The clip's first frame is the photo; `animate --mode face` drives it with the clip itself, so
every output frame has a true answer, the real frame (evaluate/self_reenact.py: face-box and
mouth-box PSNR / SSIM, AKD, AED, mouth and eye-openness correlation). Everything is compared
at `--size` (default: the clip's own long side), the real frames framed as `animate` frames
the photo. The frozen photo is the photo written as a video the same way: what a renderer
that ignores the driver scores.

usage: avatarvid study eval_self_reenact --video REAL.mp4 --json OUT [--start S] [--seconds N]
       [--size N] [--renderers warp diffusion] [--preset diffusion] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

from avatarvid.config.load import load_settings
from avatarvid.config.settings import ANIMATE_PRESET_KEYS, AnimateConfig
from avatarvid.evaluate.clip_cut import cut_seconds
from avatarvid.evaluate.self_reenact import ReenactScores, with_meshes
from avatarvid.media.video import VideoReader, VideoWriter
from avatarvid.perception.framing import frame_reference
from avatarvid.pipelines.animate import AnimateRequest, render_animate


def framed(video: Path, size: int):
    """The video's frames as `animate` frames a photo of its size (long side `size`)."""
    for frame in VideoReader(video).stream():
        yield frame_reference(frame, None, "full", size)[0]  # type: ignore[arg-type]


def score(output: Path, real: Path, size: int, real_meshes: list) -> dict[str, float | int]:
    """ReenactScores of `output` against the framed `real` video, whose meshes are
    `real_meshes` (read once for every renderer), first frame skipped."""
    scores = ReenactScores()
    pairs = zip(
        with_meshes(VideoReader(output).stream()), framed(real, size), real_meshes, strict=False
    )
    for k, ((out, out_mesh), gt, gt_mesh) in enumerate(pairs):
        if k:
            scores.add(out, gt, out_mesh, gt_mesh)
    return scores.summary()


def write_frozen(photo: Path, frames: int, fps: float, size: int, dest: Path) -> Path:
    """The photo, framed and encoded as `animate` writes, held for `frames` frames."""
    still = frame_reference(cv2.imread(str(photo))[..., ::-1], None, "full", size)[0]  # type: ignore[arg-type]
    with VideoWriter(dest, fps, still.shape[1], still.shape[0]) as writer:
        for _ in range(frames):
            writer.write(still)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="avatarvid study eval_self_reenact")
    ap.add_argument("--video", type=Path, required=True, help="a real talking-face video")
    ap.add_argument("--json", type=Path, required=True, help="where the report is written")
    ap.add_argument("--start", type=float, default=0.0, help="cut the video from here (s)")
    ap.add_argument("--seconds", type=float, help="cut this much of the video")
    ap.add_argument("--size", type=int, help="output long side (default: the video's, even)")
    ap.add_argument("--renderers", nargs="+", default=["warp"], choices=("warp", "diffusion"))
    ap.add_argument("--preset", default="diffusion", help="settings of the diffusion renderer")
    ap.add_argument("--out", type=Path, default=Path("out") / "eval_self_reenact")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    clip = args.video
    if args.seconds is not None or args.start:
        reader = VideoReader(clip)
        seconds = args.seconds or reader.num_frames / reader.fps - args.start
        clip = cut_seconds(clip, args.out / f"{clip.stem}_{args.start:g}s.mp4", args.start, seconds)
    reader = VideoReader(clip)
    size = args.size or max(reader.width, reader.height) // 2 * 2
    photo = args.out / f"{clip.stem}_first.png"
    cv2.imwrite(str(photo), next(iter(reader.stream()))[..., ::-1])
    frozen = write_frozen(photo, reader.num_frames, reader.fps, size, args.out / "frozen.mp4")
    real_meshes = [mesh for _, mesh in with_meshes(framed(clip, size))]
    report: dict = {
        "video": str(args.video), "start": args.start, "frames": reader.num_frames,
        "fps": reader.fps, "size": size, "frozen": score(frozen, clip, size, real_meshes),
    }  # fmt: skip
    print("frozen", json.dumps(report["frozen"]), flush=True)
    for renderer in args.renderers:
        config = load_settings(
            AnimateConfig, args.preset if renderer == "diffusion" else None,
            {"mode": "face", "size": size, "renderer": renderer},
            preset_keys=ANIMATE_PRESET_KEYS,
        )  # fmt: skip
        out = args.out / f"{clip.stem}_{renderer}.mp4"
        begin = time.perf_counter()
        render_animate(AnimateRequest(photo, clip, out, config))
        seconds = time.perf_counter() - begin
        report[renderer] = {
            **score(out, clip, size, real_meshes),
            "render_fps": round(reader.num_frames / seconds, 1),
        }
        print(renderer, json.dumps(report[renderer]), flush=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
