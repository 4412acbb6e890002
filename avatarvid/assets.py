"""Where presets, shipped weights and the bundled example live: one resolver for all of them.

Everything is package data found through `importlib.resources`, so an installed wheel works
from any working directory. `AVATARVID_CHECKPOINTS` points the checkpoint lookup at another
folder (e.g. weights trained on a GPU machine) without touching configs.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from avatarvid.errors import InputError

CHECKPOINTS_ENV = "AVATARVID_CHECKPOINTS"
# Shipped model directories, by name (each holds config.json + safetensors + scheduler_config).
CHECKPOINT_NAMES = (
    "motion",
    "motion/prior",
    "renderer",
    "renderer/distilled",
    "sr/fast",
    "sr/diffusion",
)


def _package_dir(*parts: str) -> Path:
    return Path(str(files("avatarvid").joinpath(*parts)))


def presets_dir() -> Path:
    return _package_dir("config", "presets")


def preset_names() -> list[str]:
    return sorted(p.stem for p in presets_dir().glob("*.yaml"))


def examples_dir() -> Path:
    """The bundled example: a real photo (scikit-image's astronaut) and espeak-ng speech."""
    return _package_dir("examples")


def checkpoints_dir() -> Path:
    override = os.environ.get(CHECKPOINTS_ENV)
    return Path(override).expanduser() if override else _package_dir("checkpoints")


def checkpoint_path(name_or_path: str | Path) -> Path:
    """A checkpoint name ("motion", "sr/fast"; a leading "checkpoints/" is accepted) resolves in
    `checkpoints_dir()`; anything else is a path (absolute, or relative to the working folder)."""
    text = str(name_or_path)
    name = text.removeprefix("checkpoints/")
    if name in CHECKPOINT_NAMES:
        return checkpoints_dir() / name
    return Path(text).expanduser()


def require_checkpoint(name_or_path: str | Path, what: str) -> Path:
    """The checkpoint directory, or one InputError that says how to get it."""
    path = checkpoint_path(name_or_path)
    if not (path / "config.json").is_file():
        raise InputError(
            f"{what} checkpoint not found at {path} (config.json missing); rebuild it with "
            f"the script named in checkpoints/README.md or set {CHECKPOINTS_ENV}"
        )
    return path


def shipped_checkpoints() -> list[str]:
    return [n for n in CHECKPOINT_NAMES if (checkpoints_dir() / n / "config.json").is_file()]
