"""Face reenactment transfer of `animate --mode face`: does the output do what the driver does?

Runs `animate --mode face` of each photo with the driver and measures, with mediapipe on both
the driver and the output, per frame: eye openness (eye aspect ratio), mouth aperture, brow
height (brow-to-eye over inter-ocular distance) and gaze (iris position in the eye, x and y).
Per photo and channel it reports the driver-vs-output Pearson correlation, the amplitude ratio
(output std / driver std; every measure is already normalised by the face's own size) and the
drift: how far the output's neutral state (median of its last 10 % of frames minus that of
its first 10 %) moved beyond the driver's own change, in driver standard deviations.

`--start S --seconds N` cuts a piece of the driver first (e.g. a validation segment of a
long training clip), written next to the outputs.

usage: avatarvid study eval_reenact --driver VIDEO --photo P [--photo P2 ...] --json OUT
       [--out DIR] [--size 256] [--start 0] [--seconds N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from avatarvid.config.settings import AnimateConfig
from avatarvid.evaluate.clip_cut import cut_seconds
from avatarvid.evaluate.metrics import (
    brow_height,
    eye_aspect_ratio,
    gaze,
    mouth_aperture,
    pearson,
)
from avatarvid.media.video import VideoReader
from avatarvid.perception.face_mesh import FaceMeshTracker
from avatarvid.pipelines.animate import AnimateRequest, render_animate

CHANNELS = ("eye", "mouth", "brow", "gaze_x", "gaze_y")
BLINK_RATIO = 0.7  # eyes below this x their median openness are closing (as count_blinks)
EDGE = 0.1  # fraction of frames at each end whose median is the "neutral state"


def face_series(path: Path) -> dict[str, np.ndarray]:
    """Per-frame measures of the video's face (NaN on frames without one), tracked as a
    video (mediapipe's tracking mode, as `animate` reads a driver)."""
    rows: list[list[float]] = []
    with FaceMeshTracker(static_image_mode=False, max_faces=1) as tracker:
        for frame in VideoReader(path).stream():
            found = tracker.detect(frame)
            if not found:
                rows.append([np.nan] * len(CHANNELS))
                continue
            lm = found[0].landmarks
            rows.append([eye_aspect_ratio(lm), mouth_aperture(lm), brow_height(lm), *gaze(lm)])
    table = np.array(rows, dtype=np.float64).reshape(-1, len(CHANNELS))
    return {name: table[:, k] for k, name in enumerate(CHANNELS)}


def _edge_shift(x: np.ndarray) -> float:
    """Median of the last EDGE of the frames minus the median of the first EDGE."""
    n = max(1, int(round(EDGE * len(x))))
    return float(np.nanmedian(x[-n:]) - np.nanmedian(x[:n]))


def _open_eyes(eye: np.ndarray) -> np.ndarray:
    """Frames whose eyes are open: not below BLINK_RATIO x the clip's median openness."""
    return eye >= BLINK_RATIO * np.nanmedian(eye)


def compare(driver: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> dict[str, dict]:
    """Correlation, amplitude ratio and drift per channel (frames paired by index). Gaze is
    scored on frames where both videos' eyes are open: a closed eye has no gaze, and
    mediapipe's iris then follows the lids."""
    result = {}
    n = min(len(driver["eye"]), len(out["eye"]))
    open_eyes = _open_eyes(driver["eye"][:n]) & _open_eyes(out["eye"][:n])
    for name in CHANNELS:
        d, o = driver[name][:n].copy(), out[name][:n].copy()
        if name.startswith("gaze"):
            d[~open_eyes], o[~open_eyes] = np.nan, np.nan
        d_std, o_std = float(np.nanstd(d)), float(np.nanstd(o))
        drift = (_edge_shift(o) - _edge_shift(d)) / max(d_std, 1e-9)
        result[name] = {
            "corr": round(pearson(d, o), 3),
            "amp": round(o_std / max(d_std, 1e-9), 3),
            "drift": round(drift, 3),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="avatarvid study eval_reenact")
    ap.add_argument("--driver", type=Path, required=True, help="a talking-head video")
    ap.add_argument("--photo", type=Path, action="append", required=True, help="repeatable")
    ap.add_argument("--json", type=Path, required=True, help="where the results are written")
    ap.add_argument("--out", type=Path, default=Path("out") / "eval_reenact")
    ap.add_argument("--size", type=int, default=256, help="output long side")
    ap.add_argument("--start", type=float, default=0.0, help="cut the driver from here (s)")
    ap.add_argument("--seconds", type=float, help="cut this much of the driver")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    driver = args.driver
    if args.seconds is not None:
        name = f"{driver.stem}_{args.start:g}s_{args.seconds:g}s.mp4"
        driver = cut_seconds(driver, args.out / name, args.start, args.seconds)
    driven = face_series(driver)
    report: dict = {
        "driver": str(args.driver), "start": args.start, "seconds": args.seconds,
        "size": args.size, "frames": len(driven["eye"]),
        "driver_std": {k: round(float(np.nanstd(v)), 4) for k, v in driven.items()},
        "photos": {},
    }  # fmt: skip
    for photo in args.photo:
        out = args.out / f"{driver.stem}__{photo.stem}.mp4"
        config = AnimateConfig(mode="face", size=args.size)
        begin = time.perf_counter()
        render_animate(AnimateRequest(photo, driver, out, config))
        seconds = time.perf_counter() - begin
        scores = compare(driven, face_series(out))
        report["photos"][photo.stem] = {"render_s": round(seconds, 1), **scores}
        print(photo.stem, json.dumps(scores), flush=True)
    args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
