"""Held-out evaluation of the SR checkpoints (numbers for checkpoints/README.md).

1. Real footage never trained on (OpenCV's vtest.avi, 10 s = 100 frames, centre 512x512):
   area-downscaled x2 / x4, upscaled back by bicubic, Lanczos, the untrained network, `fast`
   and `diffusion`; PSNR / SSIM against the original, flicker (mean absolute frame-to-frame
   difference minus the original's, and its absolute value), error flicker (mean absolute
   frame-to-frame change of output - original: the flicker an upscaler adds), window seams,
   and frames per second.
2. Faces with a reference (astronaut.png, held out): a 25-frame clip of the photo under a slow
   camera drift, downscaled x2 / x4; the guide is the original photo warped onto landmarks
   tracked on the upscaled frames (as `avatarvid upscale --reference` does). PSNR on the face
   region, guided vs unguided.

usage: avatarvid study eval_sr [--frames 100] [--variants fast ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from avatarvid.assets import examples_dir
from avatarvid.evaluate.studies.eval_sr_heldout import face_guides
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader
from avatarvid.models.sr_net import SRNet
from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, load_sr_schedule

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def held_out_clip(frames: int, size: int = 512) -> np.ndarray:
    reader = VideoReader(VTEST)
    y0, x0 = (reader.height - size) // 2, (reader.width - size) // 2
    out = []
    for frame in reader.frames():
        out.append(frame[y0 : y0 + size, x0 : x0 + size])
        if len(out) == frames:
            break
    return np.stack(out)


def face_clip(frames: int) -> np.ndarray:
    """The astronaut photo under a slow drift + rotation (sub-pixel motion, like a talking head)."""
    image = load_image(examples_dir() / "astronaut.png")
    h, w = image.shape[:2]
    out = []
    for t in range(frames):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.15 * t, 1.0 + 0.002 * t)
        m[:, 2] += (0.7 * t, 0.4 * t)
        out.append(
            cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        )
    return np.stack(out)


def downscale(clip: np.ndarray, scale: int) -> np.ndarray:
    h, w = clip.shape[1:3]
    return np.stack(
        [cv2.resize(f, (w // scale, h // scale), interpolation=cv2.INTER_AREA) for f in clip]
    )


def classic(low: np.ndarray, scale: int, interpolation: int) -> np.ndarray:
    h, w = low.shape[1:3]
    return np.stack(
        [cv2.resize(f, (w * scale, h * scale), interpolation=interpolation) for f in low]
    )


def run_upscaler(up: VideoUpscaler, low: np.ndarray, guides=None) -> tuple[np.ndarray, float]:
    out, start = [], time.perf_counter()
    for i, frame in enumerate(low):
        guide, mask = guides[i] if guides is not None else (None, None)
        out.extend(up.push(frame, guide, mask))
    out.extend(up.flush())
    return np.stack(out), len(low) / (time.perf_counter() - start)


def scores(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> dict:
    if mask is not None:
        sel = mask.astype(bool)
        mse = np.mean(
            [
                ((p[s].astype(float) - t[s]) ** 2).mean()
                for p, t, s in zip(pred, truth, sel, strict=True)
            ]
        )
        return {"psnr_face": round(float(10 * np.log10(255**2 / mse)), 3)}
    psnr = np.mean(
        [peak_signal_noise_ratio(t, p, data_range=255) for p, t in zip(pred, truth, strict=True)]
    )
    ssim = np.mean(
        [
            structural_similarity(t, p, channel_axis=2, data_range=255)
            for p, t in zip(pred[::5], truth[::5], strict=True)
        ]
    )
    pred, truth = pred.astype(np.float32), truth.astype(np.float32)
    flicker = lambda v: float(np.abs(np.diff(v, axis=0)).mean())  # noqa: E731
    excess = flicker(pred) - flicker(truth)
    return {
        "psnr": round(float(psnr), 3),
        "ssim": round(float(ssim), 4),
        "flicker_minus_truth": round(excess, 4),
        "abs_flicker_minus_truth": round(abs(excess), 4),
        # the flicker the upscaler adds: how much its error changes from frame to frame
        "error_flicker": round(flicker(pred - truth), 4),
        "seam_ratio": seam_ratio(pred, truth),
    }


def seam_ratio(pred: np.ndarray, truth: np.ndarray, window: int = 16, overlap: int = 2) -> float:
    """How much the error changes between consecutive frames where one window hands over to
    the next (the shared frames and their neighbours), over how much it changes elsewhere:
    about 1 when window boundaries are invisible."""
    error = pred.astype(np.float32) - truth
    change = np.abs(np.diff(error, axis=0)).mean(axis=(1, 2, 3))  # change[i]: frame i -> i+1
    hop = window - overlap
    at_seams = np.zeros(len(change), bool)
    for start in range(hop, len(pred), hop):
        at_seams[max(start - 1, 0) : start + overlap] = True
    if at_seams.all() or not at_seams.any():
        return float("nan")
    return round(float(change[at_seams].mean() / change[~at_seams].mean()), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatarvid study eval_sr")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--face-frames", type=int, default=25)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--checkpoints", type=Path, help="folder holding fast/ and diffusion/ (default: shipped)"
    )
    parser.add_argument("--variants", nargs="+", default=["untrained", "fast", "diffusion"])
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    models, schedules = {}, {}
    for variant in args.variants:
        model = load_sr_model("fast" if variant == "untrained" else variant, args.checkpoints)
        models[variant] = (
            SRNet.from_config(model.config).eval() if variant == "untrained" else model
        )
        if variant == "diffusion":
            schedules[variant] = load_sr_schedule(variant, args.checkpoints)
    results: dict = {"footage": {}, "faces": {}}
    truth = held_out_clip(args.frames)
    for scale in (2, 4):
        low = downscale(truth, scale)
        row = {
            "bicubic": scores(classic(low, scale, cv2.INTER_CUBIC), truth),
            "lanczos": scores(classic(low, scale, cv2.INTER_LANCZOS4), truth),
        }
        for name, model in models.items():
            up = VideoUpscaler(model, scale, steps=args.steps, schedule=schedules.get(name))
            pred, fps = run_upscaler(up, low)
            row[name] = {**scores(pred, truth), "fps": round(fps, 2)}
        results["footage"][f"x{scale}"] = row
        print(scale, json.dumps(row, indent=1), flush=True)
    faces = face_clip(args.face_frames)
    for scale in (2, 4):
        low = downscale(faces, scale)
        guides, masks = face_guides(load_image(examples_dir() / "astronaut.png"), low, scale)
        row = {
            "bicubic": scores(classic(low, scale, cv2.INTER_CUBIC), faces, masks),
            "lanczos": scores(classic(low, scale, cv2.INTER_LANCZOS4), faces, masks),
            "face_found": float(np.mean([g is not None for g, _ in guides])),
        }
        for name, model in models.items():
            if name == "untrained":
                continue
            schedule = schedules.get(name)
            plain, _ = run_upscaler(
                VideoUpscaler(model, scale, steps=args.steps, schedule=schedule), low
            )
            guided, _ = run_upscaler(
                VideoUpscaler(model, scale, steps=args.steps, schedule=schedule), low, guides
            )
            row[f"{name}_unguided"] = scores(plain, faces, masks)
            row[f"{name}_guided"] = scores(guided, faces, masks)
        results["faces"][f"x{scale}"] = row
        print(scale, json.dumps(row, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
