"""`upscale`: any video -> x2 / x4 with the SR cascade, audio passed through, streamed.

Everything that can be refused (unreadable or empty video, unsupported scale, an output above
MAX_OUTPUT_SIDE, a missing output folder, a reference without a face) is checked before the
first frame is processed, and the mp4 is written atomically by VideoWriter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
from tqdm import tqdm

from avatarvid.errors import InputError
from avatarvid.media.audio import load_audio
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader, VideoWriter, probe
from avatarvid.pipelines.paths import check_job_paths
from avatarvid.stages.sr_guide import ReferenceGuide
from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, stages_for

MAX_OUTPUT_SIDE = 4096
AUDIO_RATE = 48000


@dataclass
class UpscaleRequest:
    video: Path
    output: Path
    scale: int = 2
    reference: Path | None = None
    sr: str = "fast"
    steps: int = 4
    crf: int = 18


def upscale_video(req: UpscaleRequest, progress: bool = True) -> int:
    """Writes the upscaled video to `req.output`; returns the number of frames."""
    stages_for(req.scale)
    if req.sr not in ("fast", "diffusion"):
        raise InputError(f"--sr must be fast or diffusion, got {req.sr!r}")
    check_job_paths({"video": req.video, "reference": req.reference}, req.output)
    reader = VideoReader(req.video)
    width, height = reader.width * req.scale, reader.height * req.scale
    if max(width, height) > MAX_OUTPUT_SIDE:
        raise InputError(
            f"{req.video} is {reader.width}x{reader.height}; x{req.scale} would be "
            f"{width}x{height}, above the {MAX_OUTPUT_SIDE} px limit; use a smaller scale"
        )
    guide = None
    if req.reference is not None:  # NoFaceError before any output
        guide = ReferenceGuide(load_image(req.reference), source=req.reference)
    audio = load_audio(req.video, AUDIO_RATE) if probe(req.video).audio_codec else None
    upscaler = VideoUpscaler(load_sr_model(req.sr), req.scale, steps=req.steps)
    # libx264 needs even sides; an odd input at x2 / x4 is always even.
    writer = VideoWriter(
        req.output, reader.fps, width, height, audio=audio, audio_rate=AUDIO_RATE, crf=req.crf
    )
    try:
        with writer:
            bar = tqdm(
                total=reader.num_frames, unit="frame", desc="upscaling", disable=not progress
            )
            for frame in reader.frames():
                g = m = None
                if guide is not None:
                    g, m = guide(cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC))
                for out in upscaler.push(frame, g, m):
                    writer.write(out)
                    bar.update()
            for out in upscaler.flush():
                writer.write(out)
                bar.update()
            bar.close()
    finally:
        if guide is not None:
            guide.close()
    return reader.num_frames
