"""The job file: YAML (`defaults` + `jobs`, or a bare list) or JSONL (one job per line).

Everything is validated before anything renders and every problem is reported at once, as
`jobs[i].field: message`. Relative inputs resolve against the job file's folder, outputs against
--output-root (default: the job file's folder), which they may not leave. A job's `image` /
`audio` may be a list or a glob (likewise an animate job's `drive`); the job expands to one job
per pair and `output` must then name them with `{image}` / `{audio}` / `{drive}` (file stems)
or `{index}`.

Job kinds form a discriminated union on `kind` (default `vlog`): JOB_MODELS maps each kind to
its pydantic model, worker.EXECUTORS maps it to the function that renders it; a new kind is
one entry in each (plus its expansion in `_expand`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import string
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from avatarvid.config.load import ALIASES, SettingsError, deep_merge, load_settings
from avatarvid.config.settings import ANIMATE_PRESET_KEYS, AnimateConfig, VlogConfig
from avatarvid.errors import InputError
from avatarvid.pipelines.paths import NAME_MAX, TEMP_NAME_EXTRA, same_file
from avatarvid.safe_yaml import load_yaml, read_text

# Batch outputs pin x264's thread count so a job renders the same bytes on any worker.
BATCH_ENCODER_THREADS = 2
# A job file is a script, not a data set: these bound what validating it may cost.
MAX_JOBS = 10_000


class VlogJob(BaseModel):
    """One photo (or several) x one speech file (or several) -> mp4(s); any `vlog` option
    (fps, size, crop, seed, crf, x264_preset, encoder_threads, motion) may be given too."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["vlog"] = "vlog"
    image: str | list[str]
    audio: str | list[str]
    output: str
    preset: str = "default"
    face_index: int | None = Field(None, ge=0)
    motion_in: str | None = None

    @model_validator(mode="after")
    def _known_options(self) -> VlogJob:
        known = set(VlogConfig.model_fields) | set(ALIASES)
        unknown = sorted(set(self.model_extra or {}) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}")
        return self


class AnimateJob(BaseModel):
    """A reference image (or several) follows a driving video (or several); any `animate`
    option (AnimateConfig: mode, retarget, renderer, sr, size, fps, seed, crf, ...) may be
    given too."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["animate"]
    image: str | list[str]
    drive: str | list[str]
    output: str
    audio: str | None = None
    preset: str = "default"


JOB_MODELS: dict[str, type[BaseModel]] = {"vlog": VlogJob, "animate": AnimateJob}
INPUT_FILES = ("image", "audio", "drive", "motion_in")


@dataclass(frozen=True)
class Job:
    """A validated, expanded job: everything a worker needs, as plain picklable data.

    `spec` holds absolute input paths and the full resolved config; `problem` is set when an
    input file is missing (the job is then reported as failed without running)."""

    key: str  # the output as written in the report and manifest
    kind: str
    output: Path
    spec: dict[str, Any]
    problem: str | None = None

    def fingerprint(self) -> str:
        """Changes when the settings or any input file's bytes change (so the job is redone)."""
        h = hashlib.sha256(json.dumps([self.kind, self.spec], sort_keys=True).encode())
        for name in INPUT_FILES:
            path = self.spec.get(name)
            if path is not None:
                h.update(name.encode())
                h.update(file_sha256(Path(path)).encode() if Path(path).is_file() else b"-")
        return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_jobs(path: Path, output_root: Path | None = None, device: str | None = None) -> list[Job]:
    """Parse, validate and expand `path`; raises one InputError listing every problem.
    `device` (the --device flag) overrides every job's."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"job file {path} does not exist")
    base = path.resolve().parent
    # Without --output-root, outputs stay inside the job file's folder: a job file from
    # someone else cannot write over arbitrary files of the user running it.
    root = (output_root or base).resolve()
    entries, errors = _read_entries(path)
    jobs: list[Job] = []
    for i, entry in enumerate(entries):
        try:
            jobs.extend(_expand(entry, base, root, device))
        except _JobErrors as e:
            errors.extend(f"jobs[{i}].{msg}" for msg in e.messages)
    seen: dict[Path, str] = {}
    for job in jobs:
        if job.output in seen:
            errors.append(f"{job.key}: duplicate output (also produced by an earlier job)")
        seen.setdefault(job.output, job.key)
    if len(jobs) > MAX_JOBS:
        errors.append(f"the jobs expand to {len(jobs)} outputs; at most {MAX_JOBS} per file")
    if not errors and not jobs:
        errors.append("no jobs")
    if errors:
        raise InputError(
            f"invalid job file {path} ({len(errors)} problem(s)): " + "; ".join(errors)
        )
    return jobs


class _JobErrors(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _read_entries(path: Path) -> tuple[list[dict], list[str]]:
    """Raw job mappings with `defaults` merged in, plus structural errors."""
    errors: list[str] = []
    if path.suffix.lower() == ".jsonl":
        raw: list[Any] = []
        for n, line in enumerate(read_text(path, "job file").splitlines(), 1):
            if line.strip():
                try:
                    raw.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise InputError(f"job file {path} line {n} is not valid JSON: {e}") from None
                except RecursionError:
                    raise InputError(f"job file {path} line {n} is nested too deeply") from None
        defaults: Any = {}
    else:
        data = load_yaml(path, "job file")
        if isinstance(data, list):
            data = {"jobs": data}
        if not isinstance(data, dict) or set(data) - {"defaults", "jobs"}:
            raise InputError(
                f"job file {path} must be a list of jobs or a mapping with `jobs` "
                "(and optional `defaults`)"
            )
        raw, defaults = data.get("jobs") or [], data.get("defaults") or {}
        if not isinstance(raw, list):
            raise InputError(f"job file {path}: `jobs` must be a list")
    if len(raw) > MAX_JOBS:
        raise InputError(f"job file {path} has {len(raw)} jobs; at most {MAX_JOBS} per file")
    if not isinstance(defaults, dict):
        errors.append("defaults: must be a mapping of job fields")
        defaults = {}
    entries = []
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            entries.append(deep_merge(defaults, item))
        else:
            errors.append(f"jobs[{i}]: must be a mapping, got {type(item).__name__}")
            entries.append({})
    return entries, errors


def _expand(entry: dict, base: Path, root: Path, device: str | None) -> list[Job]:
    kind = entry.get("kind", "vlog")
    model = JOB_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        shown = repr(kind) if isinstance(kind, str | int | float | None) else type(kind).__name__
        raise _JobErrors(
            [f"kind: unknown kind {shown[:40]}; choose one of {', '.join(JOB_MODELS)}"]
        )
    try:
        job = model.model_validate(entry)
    except ValidationError as e:
        raise _JobErrors([_pydantic_message(err) for err in e.errors()]) from None
    errors: list[str] = []
    if isinstance(job, VlogJob):
        settings = _settings(job, VlogConfig, base, device, errors)
        settings["face_index"] = job.face_index
        return _pairs(job, "audio", {"motion_in": job.motion_in}, settings, base, root, errors)
    settings = _settings(job, AnimateConfig, base, device, errors, ANIMATE_PRESET_KEYS)
    return _pairs(job, "drive", {"audio": job.audio}, settings, base, root, errors)


def _pydantic_message(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("str", "list[")))
    return f"{loc or 'options'}: {err['msg']}"


def _settings(
    job: VlogJob | AnimateJob,
    model: type[VlogConfig] | type[AnimateConfig],
    base: Path,
    device: str | None,
    errors: list[str],
    preset_keys: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The job's settings as the command's own model validates them: batch defaults <- the
    preset <- the job's options <- --device (config/load.py)."""
    preset = job.preset
    if preset.endswith((".yaml", ".yml")):
        preset = str(_resolve(preset, base))
    try:
        config = load_settings(
            model,
            preset,
            deep_merge(job.model_extra or {}, {"device": device}),
            base={"encoder_threads": BATCH_ENCODER_THREADS},
            preset_keys=preset_keys,
        )
    except SettingsError as e:
        errors.extend(f"{where.removeprefix('setting ')}: {msg}" for where, msg in e.problems)
        return {}
    except InputError as e:
        errors.append(f"preset: {e}")
        return {}
    return {"config": config.model_dump(mode="json")}


def _pairs(
    job: VlogJob | AnimateJob,
    second: str,
    extra_inputs: dict[str, str | None],
    settings: dict[str, Any],
    base: Path,
    root: Path,
    errors: list[str],
) -> list[Job]:
    """One Job per (image, `second` input) pair, with outputs named by the template."""
    images = _inputs(job.image, base, "image", errors)
    others = _inputs(getattr(job, second), base, second, errors)
    allowed = ("image", second, "index")
    try:
        parsed = [p for p in string.Formatter().parse(job.output) if p[1] is not None]
    except ValueError as e:
        raise _JobErrors([f"output: bad template ({e})"]) from None
    if any(spec or conversion for _, _, spec, conversion in parsed):
        raise _JobErrors(["output: placeholders take no format spec or conversion"])
    fields = {name for _, name, _, _ in parsed}
    if fields - set(allowed):
        errors.append(
            f"output: unknown placeholder(s) {sorted(fields - set(allowed))}; "
            f"use {{image}}, {{{second}}} or {{index}}"
        )
    elif len(images) * len(others) > 1 and not fields:
        errors.append(
            f"output: this job expands to several files; name them with {{image}}, "
            f"{{{second}}} or {{index}}"
        )
    if not job.output.endswith(".mp4"):
        errors.append("output: must end in .mp4")
    if errors:
        raise _JobErrors(errors)
    extra = {k: None if v is None else _resolve(v, base) for k, v in extra_inputs.items()}
    jobs = []
    for n, (image, other) in enumerate(product(images, others)):
        name = job.output.format(**{"image": image.stem, second: other.stem, "index": n})
        output = _resolve(name, root)
        if not output.is_relative_to(root):
            raise _JobErrors(
                [f"output: {name} is outside the output root {root}; pass --output-root"]
            )
        if len(output.name) + TEMP_NAME_EXTRA > NAME_MAX:
            raise _JobErrors([f"output: file name {output.name[:40]}... is too long"])
        files = {"image": image, second: other, **extra}
        if any(p is not None and same_file(output, p) for p in files.values()):
            raise _JobErrors([f"output: {name} is one of the job's own input files"])
        missing = [
            f"{label} file {path} does not exist"
            for label, path in files.items()
            if path is not None and not path.is_file()
        ]
        spec = {**{k: None if v is None else str(v) for k, v in files.items()}, **settings}
        key = str(output.relative_to(root))
        jobs.append(Job(key, job.kind, output, spec, "; ".join(missing) or None))
    return jobs


def _inputs(value: str | list[str], base: Path, label: str, errors: list[str]) -> list[Path]:
    """A path, a glob or a list of either -> paths (a glob that matches nothing is an error;
    a plain missing path is kept and reported per job, so the other jobs still run)."""
    paths: list[Path] = []
    for item in [value] if isinstance(value, str) else value:
        if glob.has_magic(item):
            matches = sorted(glob.glob(str(_resolve(item, base))))
            if not matches:
                errors.append(f"{label}: pattern {item!r} matches no file")
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(_resolve(item, base))
    if not paths and not errors:
        errors.append(f"{label}: empty list")
    return paths


def _resolve(name: str, base: Path) -> Path:
    path = Path(name).expanduser()
    return Path(str(path if path.is_absolute() else base / path)).resolve()
