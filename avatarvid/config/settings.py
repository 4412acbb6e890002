"""Typed settings for the jobs; YAML presets (config/presets/) with CLI flags on top."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avatarvid.assets import preset_names, presets_dir
from avatarvid.errors import InputError


class MotionSettings(BaseModel):
    """Which generator makes the motion and how strongly each behaviour shows (1.0 = as
    designed). mouth ... gaze shape the procedural baseline; head_motion and expressiveness
    scale either generator's head and facial-expression amplitudes."""

    model_config = ConfigDict(extra="forbid")
    generator: Literal["procedural", "diffusion"] = "diffusion"
    checkpoint: str = "motion"  # a shipped checkpoint's name or a directory
    steps: int = Field(10, ge=1, le=100)  # diffusion: DPM-Solver++ steps
    audio_guidance: float = Field(1.5, ge=0.0, le=10.0)  # diffusion: 1 = no guidance
    head_motion: float = Field(1.0, ge=0.0, le=3.0)
    expressiveness: float = Field(1.0, ge=0.0, le=2.0)
    mouth: float = Field(1.0, ge=0.0, le=2.0)
    head: float = Field(1.0, ge=0.0, le=3.0)
    blinks_per_minute: float = Field(17.0, ge=0.0, le=60.0)
    brows: float = Field(1.0, ge=0.0, le=3.0)
    gaze: float = Field(1.0, ge=0.0, le=2.0)


class SRSettings(BaseModel):
    """Super-resolution: render at size / scale, then upscale (render/sr). "none" renders at
    the output size: for the warp renderer that is sharper, closer to the photo and faster than
    warp at half size + SR (checkpoints/README.md, "sr"); SR is for low-resolution renderers."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["none", "bicubic", "fast", "diffusion"] = "none"
    scale: Literal[2, 4] = 2  # 4 = the 128 -> 256 -> 512 cascade of two x2 stages
    steps: int = Field(4, ge=1, le=50)  # diffusion steps


class DiffusionSettings(BaseModel):
    """The diffusion renderer (render/diffusion.py): refines the warp in a face box. Defaults are
    the sampler settings chosen for the shipped checkpoint (checkpoints/README.md)."""

    model_config = ConfigDict(extra="forbid")
    checkpoint: str = "renderer"  # a shipped checkpoint's name or a directory
    steps: int = Field(2, ge=1, le=100)
    strength: float = Field(1.0, ge=0.0, le=1.0)  # 0 = the warp exactly, 1 = from noise
    guidance: float = Field(1.0, ge=0.0, le=20.0)
    samples: int = Field(4, ge=1, le=16)  # averaged: less noise, closer to the conditional mean
    scheduler: Literal["ddim", "dpm"] = "ddim"
    window: int = Field(8, ge=1, le=64)
    overlap: int = Field(2, ge=0, le=63)
    known: int = Field(2, ge=0, le=63)
    chunk: int = Field(14, ge=1, le=256)


class VlogConfig(BaseModel):
    """Everything that decides what `avatarvid vlog` renders and how fast."""

    model_config = ConfigDict(extra="forbid")
    fps: float = Field(25.0, gt=0.0, le=60.0)
    size: int = Field(256, ge=64, le=2048)
    crop: Literal["face", "full"] = "face"
    seed: int = 0
    crf: int = Field(20, ge=0, le=51)
    x264_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"
    ] = "veryfast"
    # 0 = one per core; fixed (e.g. 2), the mp4 is byte-identical on any machine.
    encoder_threads: int = Field(0, ge=0, le=16)
    renderer: Literal["warp", "diffusion"] = "warp"
    diffusion: DiffusionSettings = DiffusionSettings()
    motion: MotionSettings = MotionSettings()
    sr: SRSettings = SRSettings()


def preset_path(name: str) -> Path:
    """A preset is the name of a shipped one (avatarvid/config/presets/) or a YAML file's path."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else presets_dir() / f"{name}.yaml"
    if path.is_file():
        return path
    known = ", ".join(preset_names())
    raise InputError(f"unknown preset {name!r}; choose one of {known} or a .yaml path")


def load_config(preset: str = "default", **overrides) -> VlogConfig:
    """The preset's settings with `overrides` (None values ignored) applied on top."""
    path = preset_path(preset)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise InputError(f"preset {path} is not valid YAML: {e}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise InputError(f"preset {path} must be a mapping of settings")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return VlogConfig.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise InputError(f"invalid settings in {path.name}: {problems}") from None
