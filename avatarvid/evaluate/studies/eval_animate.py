"""Pose following of `animate` on the synthetic driver (known joints), for the README numbers.

Draws a gesture driver (astronaut face as head) and a differently framed reference person
(Grace Hopper face, other shirt), runs `animate` (relative, or `--retarget absolute`), and
measures PCK (each skeleton torso-normalised) of mediapipe on the output against mediapipe on
the driver, plus the mean change of the background rows far above the person.

Real driving videos: `avatarvid study bench_animate`.

usage: avatarvid study eval_animate [--seconds 10] [--size 512] [--out DIR]
       [--retarget relative|absolute]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from avatarvid.config.settings import AnimateConfig
from avatarvid.evaluate.pose_follow import pck, video_poses
from avatarvid.evaluate.synthetic import gesture_figure, hopper_reference, write_driver
from avatarvid.media.video import VideoReader
from avatarvid.pipelines.animate import AnimateRequest, render_animate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="avatarvid study eval_animate")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("out") / "eval_animate")
    ap.add_argument("--retarget", default="relative", choices=["relative", "absolute"])
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    driver = gesture_figure()
    drive = args.out / "driver.mp4"
    write_driver(drive, driver, round(25 * args.seconds))
    image = hopper_reference()
    cv2.imwrite(str(args.out / "ref.png"), image[..., ::-1])
    out = args.out / f"out_{drive.stem}_{args.size}_{args.retarget}.mp4"
    start = time.perf_counter()
    config = AnimateConfig(retarget=args.retarget, size=args.size)
    render_animate(AnimateRequest(args.out / "ref.png", drive, out, config))
    seconds = time.perf_counter() - start
    got, want = video_poses(out), video_poses(drive)
    frames = list(VideoReader(out).frames())
    ref_img = cv2.resize(image, frames[0].shape[1::-1], interpolation=cv2.INTER_AREA)
    top = frames[0].shape[0] // 12
    bg = float(np.mean([np.abs(f[:top].astype(int) - ref_img[:top]).mean() for f in frames]))
    print(json.dumps({
        "frames": len(frames), "size": args.size, "render_s": round(seconds, 1),
        "pck@0.1": round(pck(got, want, 0.1), 3), "pck@0.2": round(pck(got, want, 0.2), 3),
        "background_change": round(bg, 2),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
