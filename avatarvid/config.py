"""Typed settings for the jobs. YAML files in configs/ are the presets; CLI flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avatarvid.errors import InputError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class MotionSettings(BaseModel):
    """Strength of each procedural behaviour (1.0 = as designed)."""

    model_config = ConfigDict(extra="forbid")
    mouth: float = Field(1.0, ge=0.0, le=2.0)
    head: float = Field(1.0, ge=0.0, le=3.0)
    blinks_per_minute: float = Field(17.0, ge=0.0, le=60.0)
    brows: float = Field(1.0, ge=0.0, le=3.0)
    gaze: float = Field(1.0, ge=0.0, le=2.0)


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
    renderer: Literal["warp"] = "warp"
    motion: MotionSettings = MotionSettings()


def preset_path(name: str) -> Path:
    """A preset is the name of a file in configs/ or a path to a YAML file."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else CONFIG_DIR / f"{name}.yaml"
    if path.is_file():
        return path
    known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if not p.stem.startswith("train"))
    raise InputError(f"unknown preset {name!r}; choose one of {', '.join(known)} or a .yaml path")


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
