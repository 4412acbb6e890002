"""Degradations that turn a full-resolution clip into the low-resolution input SR must undo.

Real low-resolution video is not a clean box-filtered copy: it was blurred by optics and
resampling, carries sensor noise, and was compressed per frame (JPEG) or as a video (H.264).
Training on the clean case only makes a model that sharpens noise and blocks. One random
setting is drawn per clip and applied to all its frames, as a real video would have it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation

from avatarvid.media.video import to_rgb

# swscale rounds (instead of truncating) only with these flags, both ways (media/video.py)
_ROUNDED = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT


@dataclass(frozen=True)
class Degradation:
    """One clip's degradation; `clean()` is plain area downscaling (the evaluation setting)."""

    blur_sigma: float = 0.0  # Gaussian, in full-resolution pixels, before downscaling
    resample: int = cv2.INTER_AREA
    noise_sigma: float = 0.0  # on [0, 255] values, after downscaling
    jpeg_quality: int | None = None
    h264_crf: int | None = None

    @staticmethod
    def clean() -> Degradation:
        return Degradation()

    @staticmethod
    def random(rng: np.random.Generator, clean_prob: float = 0.2) -> Degradation:
        """Area / bilinear / bicubic or Gaussian (blur sigma up to 1.5 px, then area)
        downscales; H.264 crf 14-31 for 40 % of clips (what `upscale` mostly meets), JPEG
        q55-95 for 20 %; mild noise."""
        if rng.random() < clean_prob:
            return Degradation.clean()
        codec = rng.random()
        return Degradation(
            blur_sigma=float(rng.uniform(0.0, 1.5)) if rng.random() < 0.4 else 0.0,
            resample=int(rng.choice([cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC])),
            noise_sigma=float(rng.uniform(0.0, 3.0)) if rng.random() < 0.3 else 0.0,
            jpeg_quality=int(rng.integers(55, 96)) if codec < 0.2 else None,
            h264_crf=int(rng.integers(14, 32)) if 0.2 <= codec < 0.6 else None,
        )

    def apply(self, clip: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, H/scale, W/scale, 3) uint8; H and W divisible by scale."""
        t, h, w, _ = clip.shape
        if h % scale or w % scale:
            raise ValueError(f"clip size {w}x{h} is not divisible by {scale}")
        out = []
        for frame in clip:
            if self.blur_sigma > 0.05:
                frame = cv2.GaussianBlur(frame, (0, 0), self.blur_sigma)
            out.append(cv2.resize(frame, (w // scale, h // scale), interpolation=self.resample))
        low = np.stack(out)
        if self.noise_sigma > 0:
            noise = rng.normal(0.0, self.noise_sigma, low.shape)
            low = np.clip(low + noise, 0, 255).astype(np.uint8)
        if self.jpeg_quality is not None:
            low = np.stack([jpeg(f, self.jpeg_quality) for f in low])
        if self.h264_crf is not None:
            low = h264(low, self.h264_crf)
        return low


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """Round trip through JPEG at `quality` (RGB in, RGB out)."""
    ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()


def h264(clip: np.ndarray, crf: int) -> np.ndarray:
    """Round trip of a (T, h, w, 3) clip through libx264 yuv420p in memory (odd sizes padded)."""
    t, h, w, _ = clip.shape
    ph, pw = h + h % 2, w + w % 2
    padded = np.pad(clip, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = pw, ph, "yuv420p"
        for frame in padded:
            rgb = av.VideoFrame.from_ndarray(frame, format="rgb24")
            out.mux(stream.encode(rgb.reformat(format="yuv420p", interpolation=_ROUNDED)))
        out.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer) as inp:
        # rounded, as `upscale` decodes: swscale's truncation would teach a level shift
        frames = [to_rgb(f) for f in inp.decode(video=0)]
    return np.stack(frames)[:, :h, :w]
