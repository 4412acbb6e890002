"""Typed settings of every command, declared once: the presets (config/presets/*.yaml), the CLI
flags, the Python API's keyword arguments and the batch job files are all validated by these
models (config/load.py merges and validates them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avatarvid.device import DeviceName

# Working memory (MB) of the SR cascade (stages/upscaler.py), beyond the ~0.5 GB of libraries.
# `upscale` meets any frame size; a talking-head render at <= 1024 px per stage keeps its 16-frame
# windows untiled with the larger budget (x2 to 512 needs ~0.75 GB of activations).
SR_MAX_MEMORY_MB = 700
SR_STAGE_MEMORY_MB = 1200
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"]


class _Settings(BaseModel):
    # NaN and infinity are refused by name ("--fps: Input should be a finite number"), not
    # reported as out of range or passed on to the renderer.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class MotionSettings(_Settings):
    """Which generator makes the motion and how strongly each behaviour shows (1.0 = as
    designed). mouth ... gaze shape the procedural baseline; head_motion and expressiveness
    scale either generator's head and facial-expression amplitudes; head_style picks where the
    diffusion generator's head, brows and gaze come from; blinks_per_minute (when
    set) and gaze_mode hold for both (the diffusion model's blinks are re-timed,
    motion/controls.py)."""

    generator: Literal["procedural", "diffusion"] = "diffusion"
    checkpoint: str = "motion"  # a shipped checkpoint's name or a directory
    steps: int = Field(4, ge=1, le=100)  # diffusion: DPM-Solver++ steps
    # diffusion: "real" takes head, brows and gaze from the prior trained on real talking
    # video (checkpoints/motion/prior), "speech" from the audio model's synthetic prosody
    head_style: Literal["real", "speech"] = "real"
    audio_guidance: float = Field(1.5, ge=0.0, le=10.0)  # diffusion: 1 = no guidance
    head_motion: float = Field(1.0, ge=0.0, le=3.0)
    expressiveness: float = Field(1.0, ge=0.0, le=2.0)
    mouth: float = Field(1.0, ge=0.0, le=2.0)
    head: float = Field(1.0, ge=0.0, le=3.0)
    # 17: the real training clip's rate (the diffusion model alone blinked ~3/min on real
    # voices); None: each generator's own rate (the diffusion model's as sampled)
    blinks_per_minute: float | None = Field(17.0, ge=0.0, le=60.0)
    brows: float = Field(1.0, ge=0.0, le=3.0)
    gaze: float = Field(1.0, ge=0.0, le=2.0)
    gaze_mode: Literal["camera", "free"] = "free"  # camera = held at the photo's gaze


class SRSettings(_Settings):
    """Super-resolution: render at size / scale, then upscale (stages/sr.py). "none" renders at
    the output size: for the warp renderer that is sharper, closer to the photo and faster than
    warp at half size + SR (checkpoints/README.md, "sr"); SR is for low-resolution renderers."""

    mode: Literal["none", "bicubic", "fast", "diffusion"] = "none"
    scale: Literal[2, 4] = 2  # 4 = the 128 -> 256 -> 512 cascade of two x2 stages
    steps: int = Field(4, ge=1, le=50)  # diffusion steps
    max_memory: int = Field(SR_STAGE_MEMORY_MB, ge=128, le=1 << 20)  # MB, see SR_MAX_MEMORY_MB


class RefinerSettings(_Settings):
    """The diffusion refiner (stages/refiner.py): refines the warp in a face box. The default
    checkpoint is the one-pass distilled student, which ignores steps, strength (but 0),
    guidance, samples and scheduler; those defaults are the sampler settings chosen for its
    teacher, `checkpoint: renderer` (checkpoints/README.md). Its YAML key is `diffusion:` (the
    presets' and job files' name) or `refiner:`."""

    # a shipped checkpoint's name or a directory; renderer/distilled: one network pass per frame
    checkpoint: str = "renderer/distilled"
    steps: int = Field(2, ge=1, le=100)
    strength: float = Field(1.0, ge=0.0, le=1.0)  # 0 = the warp exactly, 1 = from noise
    guidance: float = Field(1.0, ge=0.0, le=20.0)
    samples: int = Field(4, ge=1, le=16)  # averaged: less noise, closer to the conditional mean
    scheduler: Literal["ddim", "dpm"] = "ddim"
    window: int = Field(8, ge=1, le=64)
    overlap: int = Field(2, ge=0, le=63)
    known: int = Field(2, ge=0, le=63)
    chunk: int = Field(14, ge=1, le=256)


class EncodeSettings(_Settings):
    """The H.264 encoder. Flat keys (crf, x264_preset, encoder_threads), as in the presets."""

    crf: int = Field(20, ge=0, le=51)
    x264_preset: X264Preset = "veryfast"
    # 0 = one per core; fixed (e.g. 2), the mp4 is byte-identical on any machine.
    encoder_threads: int = Field(0, ge=0, le=16)


class RenderSettings(EncodeSettings):
    """What vlog and animate share: the device, the seed, the renderer and SR after the warp."""

    device: DeviceName = "auto"  # where the networks run; "auto" = CUDA, else MPS, else CPU
    seed: int = Field(0, ge=0, le=2**32 - 1)  # the range numpy's and torch's generators take
    renderer: Literal["warp", "diffusion"] = "warp"
    diffusion: RefinerSettings = RefinerSettings()
    sr: SRSettings = SRSettings()


class VlogConfig(RenderSettings):
    """Everything that decides what `avatarvid vlog` renders and how fast."""

    fps: float = Field(25.0, gt=0.0, le=60.0)
    size: int = Field(256, ge=64, le=2048, multiple_of=2)  # H.264 (yuv420p) needs even sides
    crop: Literal["face", "full"] = "face"
    motion: MotionSettings = MotionSettings()


class AnimateConfig(RenderSettings):
    """`avatarvid animate`. From a preset it takes only the parts it shares with vlog
    (ANIMATE_PRESET_KEYS): a vlog preset's size and encoder are tuned for talking heads."""

    mode: Literal["auto", "body", "face"] = "auto"
    retarget: Literal["relative", "absolute"] = "relative"
    size: int = Field(512, ge=64, le=2048, multiple_of=2)  # long side of the output
    fps: float | None = Field(None, gt=0.0, le=60.0)  # None = the driver's


ANIMATE_PRESET_KEYS = ("diffusion", "sr")


class UpscaleConfig(EncodeSettings):
    """`avatarvid upscale`: the SR cascade over any video (no preset)."""

    device: DeviceName = "auto"
    scale: int = 2  # 2 or 4 (two x2 stages)
    sr: Literal["fast", "diffusion"] = "fast"  # one-pass or few-step model
    steps: int = Field(4, ge=1, le=50)  # diffusion steps
    crf: int = Field(18, ge=0, le=51)
    # MB of working memory for the SR network: windows and tiles are sized to stay within it
    max_memory: int = Field(SR_MAX_MEMORY_MB, ge=128, le=1 << 20)

    @field_validator("scale")
    @classmethod
    def _cascade_scale(cls, scale: int) -> int:
        if scale not in (2, 4):
            raise ValueError(f"scale {scale} is not supported; use 2 or 4")
        return scale
