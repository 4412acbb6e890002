"""How well `animate` follows a real driving video, in one JSON: the user's benchmark.

The driver's joints are read the way `animate` reads them (the person followed by a crop,
perception/person_track.py), per frame and unsmoothed, and labelled to face the way the
reference does (motion/retarget.py: face_like; a warped photo cannot turn round, so a driver
seen from behind is scored by its mirror image); the output's by mediapipe on the rendered
video. For relative and absolute retargeting, and for the frozen photo (the
reference never moving: what a render that ignores the driver would score):

- pck@0.1 / pck@0.2: output joints within 0.1 / 0.2 torso lengths of the driver's, each
  skeleton torso-normalised (evaluate/pose_follow.py);
- motion_corr: correlation of the torso-normalised joints' motion, driver vs output;
- foot_sliding: the output's ankle speed (torso lengths / s) while the driver's is planted;
- background_change: mean grey-level change from the reference outside the person's mask.

usage: avatarvid study bench_animate --drive VIDEO [--reference IMG] [--person X Y]
       [--first N] [--frames N] [--size 256] [--out DIR]
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
from avatarvid.evaluate.clip_cut import cut
from avatarvid.evaluate.pose_follow import (
    background_change,
    driver_poses,
    foot_sliding,
    motion_correlation,
    pck,
    video_poses,
)
from avatarvid.evaluate.synthetic import hopper_reference
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader
from avatarvid.motion.retarget import RETARGET_MODES, face_like
from avatarvid.perception.framing import frame_reference
from avatarvid.perception.person_track import empty_pose
from avatarvid.perception.pose import PoseTracker
from avatarvid.pipelines.animate import AnimateRequest, render_animate

BACKGROUND_EVERY = 5  # background change is measured on every 5th frame (segmentation is slow)


def scores(output: np.ndarray, driver: np.ndarray, fps: float) -> dict[str, float]:
    return {
        "pck@0.1": round(pck(output, driver, 0.1), 3),
        "pck@0.2": round(pck(output, driver, 0.2), 3),
        "motion_corr": round(motion_correlation(output, driver), 3) + 0.0,  # no -0.0
        "foot_sliding": round(foot_sliding(output, driver, fps), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="avatarvid study bench_animate")
    ap.add_argument("--drive", type=Path, required=True)
    ap.add_argument("--reference", type=Path, help="default: the drawn Grace Hopper figure")
    ap.add_argument("--person", type=float, nargs=2, metavar=("X", "Y"))
    ap.add_argument("--first", type=int, default=0, help="first driver frame used")
    ap.add_argument("--frames", type=int, help="driver frames used (default: all)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("out") / "bench_animate")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    reference = args.reference
    if reference is None:
        reference = args.out / "reference.png"
        cv2.imwrite(str(reference), hopper_reference()[..., ::-1])
    drive = cut(args.drive, args.out / "driver.mp4", args.first, args.frames, crf=16)
    person = None if args.person is None else (args.person[0], args.person[1])
    fps = VideoReader(drive).fps
    photo, _ = frame_reference(load_image(reference), None, "full", args.size)  # type: ignore[arg-type]
    with PoseTracker(static_image_mode=True) as tracker:
        still = tracker.detect(photo)
    driver = driver_poses(drive, person)
    if still is not None:
        driver = face_like(driver, still)
    frozen = np.repeat((empty_pose() if still is None else still)[None], len(driver), axis=0)
    report: dict[str, object] = {
        "driver": str(args.drive), "first": args.first, "frames": len(driver),
        "person": person, "size": args.size,
        "driver_seen": round(float(np.isfinite(driver[:, 11:13, 0]).all(axis=1).mean()), 3),
        "frozen": {**scores(frozen, driver, fps), "background_change": 0.0},
    }  # fmt: skip
    for mode in RETARGET_MODES:
        out = args.out / f"{drive.stem}_{mode}_{args.size}.mp4"
        start = time.perf_counter()
        config = AnimateConfig(retarget=mode, size=args.size)
        render_animate(AnimateRequest(reference, drive, out, config, person=person))
        seconds = time.perf_counter() - start
        frames = list(VideoReader(out).frames())
        report[mode] = {
            **scores(video_poses(out), driver, fps),
            "background_change": round(background_change(frames[::BACKGROUND_EVERY], photo), 2),
            "render_s": round(seconds, 1),
        }
    text = json.dumps(report, indent=1)
    (args.out / "bench_animate.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
