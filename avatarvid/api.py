"""The Python API: the same settings path and pipelines as the command line.

    import avatarvid
    r = avatarvid.vlog("me.jpg", "line.wav", "me.mp4", size=512, motion={"head_motion": 0.5})
    avatar = avatarvid.Avatar("me.jpg")          # perceives the photo once
    for frame in avatar.frames("line.wav"): ...  # (H, W, 3) uint8 RGB, no encoder

Settings are keyword overrides of the preset by field name of the command's settings model
(config/settings.py), nested sections as dicts; they are merged and validated by
config/load.py, so a bad value is an InputError naming the field.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avatarvid.config.load import deep_merge, load_settings
from avatarvid.config.settings import ANIMATE_PRESET_KEYS, AnimateConfig, UpscaleConfig, VlogConfig
from avatarvid.errors import InputError
from avatarvid.pipelines.control import Progress, no_progress

PathLike = str | Path


@dataclass(frozen=True)
class RenderResult:
    """What a render wrote: the mp4, its frame count and rate, its duration in seconds and the
    wall-clock seconds per stage."""

    path: Path
    frames: int
    fps: float
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def _path(value: PathLike | None) -> Path | None:
    return None if value is None else Path(value)


def _face_index(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or value < 0):
        raise InputError(f"face_index: must be a whole number >= 0, got {value!r}")
    return value


def vlog(
    image: PathLike,
    audio: PathLike,
    output: PathLike,
    *,
    preset: str = "default",
    device: str = "auto",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    face_index: int | None = None,
    motion_in: PathLike | None = None,
    motion_out: PathLike | None = None,
    **settings: Any,
) -> RenderResult:
    """The photo `image` speaking `audio`, written to `output` (.mp4)."""
    config = load_settings(VlogConfig, preset, {**settings, "device": device})
    return run_vlog(
        image, audio, output, config, face_index=face_index, motion_in=motion_in,
        motion_out=motion_out, progress=progress, cancel=cancel,
    )  # fmt: skip


def run_vlog(
    image: PathLike,
    audio: PathLike,
    output: PathLike,
    config: VlogConfig,
    *,
    face_index: int | None = None,
    motion_in: PathLike | None = None,
    motion_out: PathLike | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> RenderResult:
    """vlog with validated settings (the CLI's entry: it validates its flags itself)."""
    from avatarvid.pipelines.vlog import VlogRequest, render_vlog

    request = VlogRequest(
        Path(image), Path(audio), Path(output), config, _face_index(face_index),
        _path(motion_in), _path(motion_out),
    )  # fmt: skip
    r = render_vlog(request, progress=progress or no_progress, cancel=cancel)
    return RenderResult(r.output, r.num_frames, r.fps, r.audio_seconds, r.timings)


def animate(
    image: PathLike,
    drive: PathLike,
    output: PathLike,
    *,
    preset: str = "default",
    device: str = "auto",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    audio: PathLike | None = None,
    motion_out: PathLike | None = None,
    person: tuple[float, float] | None = None,
    **settings: Any,
) -> RenderResult:
    """The person in `image` following the one in the driving video `drive` (the one at
    `person`, x y in its first frame, when it shows several)."""
    config = load_settings(
        AnimateConfig, preset, {**settings, "device": device}, preset_keys=ANIMATE_PRESET_KEYS
    )
    result, _ = run_animate(
        image, drive, output, config, audio=audio, motion_out=motion_out, person=person,
        progress=progress, cancel=cancel,
    )  # fmt: skip
    return result


def run_animate(
    image: PathLike,
    drive: PathLike,
    output: PathLike,
    config: AnimateConfig,
    *,
    audio: PathLike | None = None,
    motion_out: PathLike | None = None,
    person: tuple[float, float] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[RenderResult, str]:
    """animate with validated settings; also says which mode ran (body or face). `person`
    (x, y in the driver's first frame) picks whom to follow when several people are seen."""
    from avatarvid.pipelines.animate import AnimateRequest, render_animate

    request = AnimateRequest(
        Path(image), Path(drive), Path(output), config, _path(audio), _path(motion_out), person
    )
    r = render_animate(request, progress=progress or no_progress, cancel=cancel)
    return RenderResult(r.output, r.num_frames, r.fps, r.num_frames / r.fps, r.timings), r.mode


def upscale(
    video: PathLike,
    output: PathLike,
    scale: int = 2,
    reference: PathLike | None = None,
    *,
    device: str = "auto",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    **settings: Any,
) -> RenderResult:
    """`video` upscaled x`scale` by the SR cascade, guided by the photo `reference` if given."""
    config = load_settings(UpscaleConfig, None, {**settings, "scale": scale, "device": device})
    return run_upscale(video, output, config, reference, progress=progress, cancel=cancel)


def run_upscale(
    video: PathLike,
    output: PathLike,
    config: UpscaleConfig,
    reference: PathLike | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> RenderResult:
    """upscale with validated settings."""
    from avatarvid.pipelines.upscale import UpscaleRequest, upscale_video

    request = UpscaleRequest(Path(video), Path(output), config, _path(reference))
    r = upscale_video(request, progress=progress or no_progress, cancel=cancel)
    return RenderResult(r.output, r.num_frames, r.fps, r.num_frames / r.fps, r.timings)


class Avatar:
    """One photo, perceived once (face found, framed, landmarks), rendered with many audios.

    crop, size and face_index decide the framing and are fixed here; every other setting may
    be overridden per render."""

    def __init__(
        self,
        image: PathLike,
        *,
        preset: str = "default",
        device: str = "auto",
        face_index: int | None = None,
        **settings: Any,
    ):
        from avatarvid.pipelines.vlog import perceive_reference

        self.image, self.preset = Path(image), preset
        self.face_index = _face_index(face_index)
        self.settings = {**settings, "device": device}
        self.config = load_settings(VlogConfig, preset, self.settings)
        if not self.image.is_file():
            raise InputError(f"image file {self.image} does not exist")
        self.reference = perceive_reference(self.image, self.config, self.face_index)

    def render(
        self,
        audio: PathLike,
        output: PathLike,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        motion_in: PathLike | None = None,
        motion_out: PathLike | None = None,
        **overrides: Any,
    ) -> RenderResult:
        """The photo speaking `audio`, written to `output` (.mp4)."""
        from avatarvid.pipelines.vlog import render_vlog

        request = self._request(audio, output, motion_in, motion_out, overrides)
        r = render_vlog(request, self.reference, progress or no_progress, cancel)
        return RenderResult(r.output, r.num_frames, r.fps, r.audio_seconds, r.timings)

    def frames(
        self,
        audio: PathLike,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        motion_in: PathLike | None = None,
        **overrides: Any,
    ) -> Iterator[np.ndarray]:
        """The frames of the photo speaking `audio`, (H, W, 3) uint8 RGB, streamed as they are
        made (no encoder, no audio). Motion is made before this returns; frames on iteration."""
        from avatarvid.pipelines.vlog import VlogFrames, check_paths

        request = self._request(audio, None, motion_in, None, overrides)
        check_paths(request)
        return VlogFrames(request, self.reference, progress or no_progress, cancel).frames()

    def _request(self, audio, output, motion_in, motion_out, overrides: dict[str, Any]):
        from avatarvid.pipelines.vlog import VlogRequest

        if "face_index" in overrides:
            raise InputError("face_index is fixed when the Avatar is made; make another Avatar")
        config = load_settings(VlogConfig, self.preset, deep_merge(self.settings, overrides))
        if (config.crop, config.size) != (self.config.crop, self.config.size):
            raise InputError("crop and size are fixed when the Avatar is made; make another Avatar")
        return VlogRequest(
            Path(self.image), Path(audio), _path(output), config, self.face_index,
            _path(motion_in), _path(motion_out),
        )  # fmt: skip
