"""One way to get settings: defaults <- preset (YAML) <- overrides (CLI flags, API keywords or a
batch job), deep-merged once and validated once. A problem names where the bad value came from:
the preset file and the dotted field, the flag, or the API keyword."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from avatarvid.assets import preset_names, presets_dir
from avatarvid.config.settings import VlogConfig
from avatarvid.errors import InputError
from avatarvid.safe_yaml import load_yaml

Model = TypeVar("Model", bound=BaseModel)
ALIASES = {"refiner": "diffusion"}  # accepted spellings of a section -> the field's name


class SettingsError(InputError):
    """Invalid settings; `problems` lists (where, message) pairs for callers that regroup them
    (a batch file reports every job's problems at once)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{where}: {msg}" for where, msg in problems))
        self.problems = problems


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`; nested mappings merge key by key, None values in `top` are ignored."""
    out = dict(base)
    for key, value in top.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def normalize(data: Mapping[str, Any]) -> dict[str, Any]:
    """Section aliases (`refiner:`) under their field's name (`diffusion:`)."""
    out = dict(data)
    for alias, name in ALIASES.items():
        if alias in out:
            if name in out:
                raise InputError(f"give either {alias} or {name}, not both")
            out[name] = out.pop(alias)
    return out


def preset_path(name: str | Path) -> Path:
    """A preset is the name of a shipped one (avatarvid/config/presets/) or a YAML file's path."""
    name = str(name)
    path = Path(name) if name.endswith((".yaml", ".yml")) else presets_dir() / f"{name}.yaml"
    if path.is_file():
        return path
    known = ", ".join(preset_names())
    raise InputError(f"unknown preset {name!r}; choose one of {known} or a .yaml path")


def read_preset(name: str | Path) -> tuple[Path, dict[str, Any]]:
    """The preset's file and its mapping of settings (not yet validated)."""
    path = preset_path(name)
    return path, copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, mtime_ns: int) -> dict[str, Any]:
    """A preset parsed once per version of the file: a batch of 10,000 jobs reads it once."""
    data = load_yaml(path, "preset") or {}
    if not isinstance(data, dict):
        raise InputError(f"preset {path} must be a mapping of settings")
    return normalize(data)


def load_settings(
    model: type[Model],
    preset: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    flags: Mapping[str, str] | None = None,
    base: Mapping[str, Any] | None = None,
    preset_keys: Sequence[str] | None = None,
) -> Model:
    """`model` validated from base <- preset <- overrides (None values = not given).

    `flags` maps dotted fields to the CLI flags that set them, so a bad flag value is reported
    as `--steps: ...`; other overrides are reported as `setting motion.steps: ...`, values
    from the preset as `preset quality.yaml: diffusion.steps: ...`. `preset_keys` keeps only
    those top-level sections of the preset (animate shares only some of vlog's)."""
    layers: list[tuple[str | None, dict[str, Any]]] = [(None, dict(base or {}))]
    if preset is not None:
        path, data = read_preset(preset)
        if preset_keys is not None:
            data = {k: v for k, v in data.items() if k in preset_keys}
        layers.append((f"preset {path.name}", data))
    layers.append(("", normalize(overrides or {})))
    merged: dict[str, Any] = {}
    for _, data in layers:
        merged = deep_merge(merged, data)
    try:
        return model.model_validate(merged)
    except ValidationError as e:
        raise SettingsError([_locate(err, layers, flags or {}) for err in e.errors()]) from None


def _locate(err: Any, layers: list[tuple[str | None, dict]], flags: Mapping[str, str]):
    """(where, message) for one pydantic error: the last layer that set the field."""
    loc = [str(p) for p in err["loc"]]
    dotted = ".".join(loc)
    message = err["msg"].removeprefix("Value error, ")
    for source, data in reversed(layers):
        if _holds(data, loc):
            if source == "":
                return (flags.get(dotted) or f"setting {dotted}", message)
            if source is not None:
                return (f"{source}: {dotted}", message)
    return (dotted, message)


def _holds(data: Any, loc: list[str]) -> bool:
    for part in loc:
        if not isinstance(data, Mapping) or part not in data or data[part] is None:
            return False
        data = data[part]
    return True


def load_config(preset: str = "default", **overrides: Any) -> VlogConfig:
    """vlog's settings: the preset with `overrides` on top (for scripts and bench)."""
    return load_settings(VlogConfig, preset, overrides)
