"""A real-footage driver for `animate`: one pedestrian of a street video, followed by a moving
crop and upscaled (the people in e.g. OpenCV's vtest.avi are ~80 px tall).

The pedestrian at `--start` (x, y in the first frame) is followed by re-centring the crop on
the torso that mediapipe pose finds in it (exponentially smoothed; held when missed).

usage: avatarvid study crop_pedestrian VIDEO OUT.mp4 --start X Y
       [--first N] [--frames N] [--box 120] [--scale 4]
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from avatarvid.media.video import VideoWriter
from avatarvid.perception.pose import VISIBLE, PoseTracker, torso_centre_and_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="avatarvid study crop_pedestrian")
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--start", type=float, nargs=2, required=True)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--box", type=int, default=120, help="crop height in source pixels")
    ap.add_argument("--scale", type=int, default=4)
    args = ap.parse_args(argv)
    tracker = PoseTracker(static_image_mode=False)
    cap = cv2.VideoCapture(args.video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.set(cv2.CAP_PROP_POS_FRAMES, args.first)
    centre = np.array(args.start, dtype=np.float64)
    bh, bw = args.box, args.box * 3 // 4
    found = 0
    with VideoWriter(args.out, fps, bw * args.scale, bh * args.scale, crf=16) as writer:
        for _ in range(args.frames):
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            x0 = int(np.clip(centre[0] - bw / 2, 0, w - bw))
            y0 = int(np.clip(centre[1] - bh / 2, 0, h - bh))
            crop = frame[y0 : y0 + bh, x0 : x0 + bw]
            crop = cv2.resize(
                crop, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_CUBIC
            )
            rgb = np.ascontiguousarray(crop[..., ::-1])
            writer.write(rgb)
            pose = tracker.detect(rgb)
            if pose is not None and (pose[[11, 12, 23, 24], 2] >= VISIBLE).all():
                seen, _size = torso_centre_and_size(pose)
                centre = 0.5 * centre + 0.5 * (np.array([x0, y0]) + seen / args.scale)
                found += 1
    print(f"{args.frames} frames, pedestrian detected in {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
