"""Grey levels survive `upscale` (issue 16): decoding rounds instead of truncating, so a grey
ramp and a dark real clip, written the way phones and ffmpeg write them (BT.601 tagged or
untagged H.264), come out of fast x2 at bicubic's mean luma and at their own levels.

Output luma is read from the decoded Y plane, which no YUV -> RGB conversion touches."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace

import avatarvid
from avatarvid.media.video import VideoReader, VideoWriter, to_rgb
from avatarvid.stages.upscaler import VideoUpscaler

LEVELS = np.linspace(16, 235, 12).round().astype(np.uint8)
BAND = 8  # pixels per ramp level
# FFmpeg's AVCOL_SPC_SMPTE170M (BT.601): what phones and SD tools tag
SMPTE170M = 6


def _ramp(frames: int = 6) -> list[np.ndarray]:
    row = np.repeat(LEVELS, BAND)
    image = np.repeat(np.repeat(row[None, :, None], 32, 0), 3, 2)
    return [np.ascontiguousarray(image)] * frames


def _dark(astronaut: np.ndarray, frames: int = 6) -> list[np.ndarray]:
    """The real photo at a third of its brightness, panning a pixel per frame."""
    small = cv2.resize(astronaut, (96, 96), interpolation=cv2.INTER_AREA)
    dark = np.rint(small * 0.35).astype(np.uint8)
    return [np.roll(dark, i, axis=1) for i in range(frames)]


def _write_bt601(frames: list[np.ndarray], path: Path, tagged: bool) -> Path:
    """BT.601 limited-range H.264, tagged as such or untagged."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "16"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if tagged:
            stream.codec_context.colorspace = SMPTE170M
            stream.codec_context.color_range = ColorRange.MPEG
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG
            )
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _luma(path: Path) -> np.ndarray:
    """(frames, H, W) luma in RGB grey levels, from the limited-range Y plane."""
    with av.open(str(path)) as container:
        planes = [f.to_ndarray(format="yuv420p")[: f.height] for f in container.decode(video=0)]
    return (np.stack(planes).astype(np.float64) - 16.0) * 255.0 / 219.0


def _bicubic(path: Path, out: Path) -> Path:
    reader = VideoReader(path)
    upscaler = VideoUpscaler(None, 2)
    with VideoWriter(out, reader.fps, reader.width * 2, reader.height * 2) as writer:
        for frame in reader.stream():
            for big in upscaler.push(frame):
                writer.write(big)
    return out


def _fast_and_bicubic(path: Path) -> tuple[np.ndarray, np.ndarray]:
    fast = path.with_name("fast.mp4")
    avatarvid.upscale(path, fast, 2, device="cpu")
    return _luma(fast), _luma(_bicubic(path, path.with_name("bicubic.mp4")))


@pytest.mark.parametrize("tagged", [True, False])
def test_grey_ramp_keeps_its_levels(tmp_path: Path, tagged: bool) -> None:
    clip = _write_bt601(_ramp(), tmp_path / "ramp.mp4", tagged)
    fast, bicubic = _fast_and_bicubic(clip)
    assert abs(fast.mean() - bicubic.mean()) < 0.5
    for i, level in enumerate(LEVELS):
        band = slice(2 * (i * BAND + 2), 2 * ((i + 1) * BAND - 2))  # away from the edges
        assert abs(fast[:, 4:-4, band].mean() - level) < 0.6, level
        assert abs(bicubic[:, 4:-4, band].mean() - level) < 0.6, level


@pytest.mark.parametrize("tagged", [True, False])
def test_dark_real_clip_keeps_its_mean_luma(
    tmp_path: Path, astronaut: np.ndarray, tagged: bool
) -> None:
    frames = _dark(astronaut)
    clip = _write_bt601(frames, tmp_path / "dark.mp4", tagged)
    fast, bicubic = _fast_and_bicubic(clip)
    source = np.stack(frames).astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    assert source.mean() < 50  # dark
    assert abs(fast.mean() - bicubic.mean()) < 0.5
    assert abs(fast.mean() - source.mean()) < 0.5


@pytest.mark.parametrize("space", [Colorspace.ITU601, Colorspace.ITU709])
def test_to_rgb_rounds_every_grey(space: Colorspace) -> None:
    """Exact limited-range Y for all 256 greys decodes back to them: no truncation bias."""
    greys = np.arange(256, dtype=np.float64)
    planes = np.full((24, 256), 128, np.uint8)
    planes[:16] = np.rint(16 + greys * 219 / 255)
    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    frame.colorspace = space
    frame.color_range = ColorRange.MPEG
    error = to_rgb(frame)[0, :, 0].astype(np.float64) - greys
    assert abs(error.mean()) < 0.05
    assert np.abs(error).max() <= 1
