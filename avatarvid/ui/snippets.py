"""The settings a user clicked, as the equivalent `avatarvid` command and Python call."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

# UI control -> (CLI flag, where the setting lives in the API's settings)
VLOG_FLAGS = {
    "size": ("--size", ("size",)),
    "seed": ("--seed", ("seed",)),
    "head_motion": ("--head-motion", ("motion", "head_motion")),
    "expressiveness": ("--expressiveness", ("motion", "expressiveness")),
    "generator": ("--motion", ("motion", "generator")),
    "renderer": ("--renderer", ("renderer",)),
    "sr": ("--sr", ("sr", "mode")),
}


def _name(path: str | None, fallback: str) -> str:
    return Path(path).name if path else fallback


def _nest(flat: dict[str, Any], flags: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in flat.items():
        where = flags[key][1]
        if len(where) == 1:
            settings[where[0]] = value
        else:
            settings.setdefault(where[0], {})[where[1]] = value
    return settings


def vlog_settings(changed: dict[str, Any]) -> dict[str, Any]:
    """UI controls (only those that differ from the preset) -> the API's settings."""
    return _nest(changed, VLOG_FLAGS)


def _python(call: str, args: list[str], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"import avatarvid\n\nresult = avatarvid.{call}({', '.join(parts)})\nprint(result)\n"


def _shell(words: list[str]) -> str:
    return " ".join(shlex.quote(str(w)) for w in words)


def vlog_snippets(
    image: str | None, audio: str | None, preset: str, changed: dict[str, Any]
) -> tuple[str, str]:
    photo, speech = _name(image, "photo.png"), _name(audio, "speech.wav")
    output = f"{Path(photo).stem}-talking.mp4"
    words = ["avatarvid", "vlog", "--image", photo, "--audio", speech, "-o", output]
    if preset != "default":
        words += ["--preset", preset]
    for key, value in changed.items():
        words += [VLOG_FLAGS[key][0], _fmt(value)]
    kwargs = ({"preset": preset} if preset != "default" else {}) | vlog_settings(changed)
    return _shell(words), _python("vlog", [photo, speech, output], kwargs)


def animate_snippets(
    image: str | None, drive: str | None, settings: dict[str, Any]
) -> tuple[str, str]:
    photo, video = _name(image, "photo.png"), _name(drive, "drive.mp4")
    output = f"{Path(photo).stem}-animated.mp4"
    words = ["avatarvid", "animate", "--image", photo, "--drive", video, "-o", output]
    for key, value in settings.items():
        flag_value = value["mode"] if key == "sr" else value
        words += [f"--{key}", _fmt(flag_value)]
    return _shell(words), _python("animate", [photo, video, output], settings)


def upscale_snippets(
    video: str | None, scale: int, reference: str | None, mode: str
) -> tuple[str, str]:
    name = _name(video, "video.mp4")
    output = f"{Path(name).stem}-x{scale}.mp4"
    words = ["avatarvid", "upscale", "--video", name, "-o", output, "--scale", str(scale)]
    kwargs: dict[str, Any] = {"scale": scale}
    if reference:
        words += ["--reference", _name(reference, "photo.png")]
        kwargs["reference"] = _name(reference, "photo.png")
    words += ["--sr", mode]
    kwargs["sr"] = {"mode": mode}
    return _shell(words), _python("upscale", [name, output], kwargs)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
