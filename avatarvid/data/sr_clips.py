"""Self-supervised SR training clips from real images and videos.

Any full-resolution footage is its own ground truth: a clip is cut from a video (real motion)
or made from a still photo by a slow random camera drift (sub-pixel shifts, rotation, zoom,
so the temporal layers see moving content), then degraded (`render.sr.degrade`). The guide
imitates the reference photo warped to the frame's geometry: the true frame displaced by a
smooth random field (warp error), relit, sometimes taken from another moment, partly masked,
or absent, so the network learns to use it where it agrees with the input and to ignore it
where it does not.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from avatarvid.data.degrade import Degradation
from avatarvid.data.sr_guides import block_mean, run_guides
from avatarvid.data.sr_sets import is_validation_still
from avatarvid.errors import InputError
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader


@dataclass
class Batch:
    """Float tensors in [0, 1]: lr (N, 3, h, w), hr and guide (N, 3, H, W), mask (N, 1, h, w),
    with N = clips * frames (frame batches, as the network takes them)."""

    lr: torch.Tensor
    hr: torch.Tensor
    guide: torch.Tensor
    mask: torch.Tensor
    num_frames: int


def expand_sources(patterns: list[str], exclude: list[str]) -> list[Path]:
    """Files matching the glob patterns (sorted, de-duplicated), minus excluded names and the
    stills of validation footage."""
    found = sorted({Path(p) for pattern in patterns for p in glob.glob(pattern)})
    return [p for p in found if p.name not in set(exclude) and not is_validation_still(p.name)]


class ClipSampler:
    """Random (lr, hr, guide, mask) training clips; everything decoded once into memory."""

    def __init__(
        self,
        images: list[Path],
        videos: list[Path],
        frames: int,
        patch: int,
        scale: int,
        max_video_frames: int = 300,
        seed: int | np.random.Generator = 0,  # a Generator is used as is
        spans: dict[str, tuple[float, float]] | None = None,
        face_videos: tuple[str, ...] = (),
        real_guide_prob: float = 0.75,
        video_prob: float = 0.6,
    ):
        """`spans`: file name -> (start, end) fractions of the video that may be used (the
        rest validates); `face_videos`: file names whose clips get real reference guides
        (`sr_guides.py`) with probability `real_guide_prob`."""
        if patch % scale:
            raise InputError(f"patch {patch} must be divisible by the scale {scale}")
        self.images = [im for im in (load_image(p) for p in images) if min(im.shape[:2]) > patch]
        self.rng = np.random.default_rng(seed)
        spans = spans or {}
        loaded = [
            (p, _load_runs(p, max_video_frames, frames, self.rng, spans.get(p.name, (0.0, 1.0))))
            for p in videos
        ]
        loaded = [(p, v) for p, v in loaded if v is not None and min(v.shape[2:4]) > patch]
        self.videos = [v for _, v in loaded]
        self.guides = [
            run_guides(v, scale, self.rng) if p.name in face_videos else None for p, v in loaded
        ]
        if not self.images and not self.videos:
            raise InputError("no usable SR training images or videos (all missing or too small)")
        self.frames, self.patch, self.scale = frames, patch, scale
        self.real_guide_prob, self.video_prob = real_guide_prob, video_prob

    def clip(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One (lr, hr, guide, mask) clip as uint8 / float32 arrays, (T, H, W, C) each."""
        rng = self.rng
        use_video = self.videos and (not self.images or rng.random() < self.video_prob)
        hr, guide, mask = self._video_clip() if use_video else (self._image_clip(), None, None)
        if rng.random() < 0.5:
            hr = hr[:, :, ::-1]
            guide = None if guide is None else guide[:, :, ::-1]
            mask = None if mask is None else mask[:, :, ::-1]
        hr = np.ascontiguousarray(hr)
        lr = Degradation.random(rng).apply(hr, self.scale, rng)
        if guide is None or mask is None:
            guide, mask = self._guide(hr)
        else:
            guide, mask = np.ascontiguousarray(guide), block_mean(mask, self.scale)
        return lr, hr, guide, mask

    def batch(self, clips: int) -> Batch:
        parts = [self.clip() for _ in range(clips)]

        def stack(i: int) -> torch.Tensor:
            arr = np.concatenate([p[i] for p in parts]).astype(np.float32)
            if parts[0][i].dtype == np.uint8:
                arr /= 255.0
            return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()

        return Batch(stack(0), stack(1), stack(2), stack(3), self.frames)

    def _video_clip(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(hr, guide, mask) of a video; guide and mask only for a real reference guide (the
        patch then mostly covers the tracked face)."""
        rng, p = self.rng, self.patch
        v = int(rng.integers(len(self.videos)))
        runs, guides = self.videos[v], self.guides[v]
        r = int(rng.integers(len(runs)))
        run = runs[r]
        t0 = int(rng.integers(0, len(run) - self.frames + 1))
        span = slice(t0, t0 + self.frames)
        y = int(rng.integers(0, run.shape[1] - p + 1))
        x = int(rng.integers(0, run.shape[2] - p + 1))
        real = guides is not None and guides[r] is not None
        if not real or rng.random() >= self.real_guide_prob:
            return run[span, y : y + p, x : x + p], None, None
        guide, mask = guides[r]
        ys, xs = np.nonzero(mask[t0])
        if len(ys) and rng.random() < 0.8:  # centre the patch on a face pixel
            i = int(rng.integers(len(ys)))
            y = int(np.clip(ys[i] - p // 2, 0, run.shape[1] - p))
            x = int(np.clip(xs[i] - p // 2, 0, run.shape[2] - p))
        area = (span, slice(y, y + p), slice(x, x + p))
        return run[area], guide[area], mask[area]

    def _image_clip(self) -> np.ndarray:
        """A still photo seen by a slowly drifting, rotating, zooming camera."""
        rng, p = self.rng, self.patch
        image = self.images[rng.integers(len(self.images))]
        zoom = rng.uniform(0.5, 1.0)
        h, w = image.shape[:2]
        if min(h, w) * zoom > p * 1.5:
            image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
            h, w = image.shape[:2]
        margin = 0.2 * p
        cy = rng.uniform(p / 2 + margin, h - p / 2 - margin) if h > p + 2 * margin else h / 2
        cx = rng.uniform(p / 2 + margin, w - p / 2 - margin) if w > p + 2 * margin else w / 2
        velocity = rng.normal(0.0, 0.8, 2) * (3.0 if rng.random() < 0.2 else 1.0)  # fast pans
        spin, growth = rng.normal(0.0, 0.3), rng.normal(0.0, 0.01)
        # handheld shake: a random walk of sub-pixel to pixel steps on top of the drift
        shake = np.cumsum(rng.normal(0.0, rng.uniform(0.0, 0.8), (self.frames, 2)), axis=0)
        frames = []
        for t in range(self.frames):
            angle, scale = spin * t, 1.0 + growth * t
            dx, dy = velocity * t + shake[t]
            m = cv2.getRotationMatrix2D((cx + dx, cy + dy), angle, scale)
            m[:, 2] += np.array([p / 2 - cx - dx, p / 2 - cy - dy])
            frames.append(
                cv2.warpAffine(
                    image, m, (p, p), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
                )
            )
        return np.stack(frames)

    def _guide(self, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(guide uint8 (T, H, W, 3), mask float32 (T, h, w, 1)); zeros when absent."""
        rng, t, s = self.rng, len(hr), self.scale
        h, w = hr.shape[1:3]
        mask = np.zeros((t, h // s, w // s, 1), np.float32)
        if rng.random() < 0.3:
            return np.zeros_like(hr), mask
        source = hr
        if rng.random() < 0.25:  # another moment of the clip: content moved, detail still useful
            source = np.roll(hr, int(rng.integers(1, t)) if t > 1 else 0, axis=0)
        amplitude = rng.uniform(0.0, 2.0)
        gain, bias = rng.uniform(0.85, 1.15), rng.uniform(-12, 12)
        field = rng.normal(0.0, amplitude, (2, 4, 4)).astype(np.float32)
        dx = cv2.resize(field[0], (w, h), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(field[1], (w, h), interpolation=cv2.INTER_CUBIC)
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        guide = np.stack(
            [
                cv2.remap(f, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                for f in source
            ]
        )
        guide = np.clip(guide.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
        mask[:] = 1.0
        if rng.random() < 0.4:  # guide only inside an ellipse (a face region)
            ellipse = np.zeros((h // s, w // s), np.uint8)
            centre = (int(rng.integers(0, w // s)), int(rng.integers(0, h // s)))
            axes = (int(rng.integers(w // 8, w // s)), int(rng.integers(h // 8, h // s)))
            cv2.ellipse(ellipse, centre, axes, 0, 0, 360, 1, -1)
            mask[..., 0] = ellipse
        return guide, mask


def run_indices(
    num_frames: int, max_frames: int, min_run: int, rng: np.random.Generator
) -> np.ndarray:
    """(runs, length) frame indices: runs of consecutive frames spread over the whole video.

    One run per `max_frames` of video (but none shorter than `min_run`), each at a random
    start within its stretch and as long as the budget allows: a video that fits the budget
    is one run, all of it; a long one contributes every part of its length (scenes, lighting,
    motion) instead of its first seconds. Clips are cut inside a run, never across two.
    """
    if num_frames < min_run:
        raise ValueError(f"a {num_frames}-frame video has no run of {min_run} frames")
    budget = max(min_run, min(max_frames, num_frames))
    runs = min(-(-num_frames // max(max_frames, 1)), budget // min_run)
    length = budget // runs
    bounds = np.linspace(0, num_frames, runs + 1).astype(int)
    starts = rng.integers(bounds[:-1], bounds[1:] - length + 1)
    return starts[:, None] + np.arange(length)


def _load_runs(
    path: Path,
    max_frames: int,
    min_run: int,
    rng: np.random.Generator,
    span: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray | None:
    """(runs, length, H, W, 3) frames of `path` within its `span` (fractions of its length;
    see `run_indices`), decoded by random access (decord) one run at a time; None for a
    video (span) shorter than `min_run`."""
    reader = VideoReader(path)
    first, last = int(span[0] * reader.num_frames), int(span[1] * reader.num_frames)
    if last - first < min_run:
        return None
    runs = first + run_indices(last - first, max_frames, min_run, rng)
    return np.stack([reader.read(run) for run in runs])
