"""What runs inside a worker (a local process or a Ray task): render one job to a hidden
staged file and describe it. The driver records it in the manifest and only then renames the
staged file to the real output, so an output never exists without its manifest record.

Per-worker state lives here: the framed reference photo is perceived once per worker for each
(image bytes, crop, size, face_index) and reused by later jobs on the same worker.
"""

from __future__ import annotations

import ctypes
import glob
import os
import signal
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avatarvid.config.settings import AnimateConfig, VlogConfig
from avatarvid.errors import InputError
from avatarvid.media.video import probe
from avatarvid.pipelines.batch.schema import Job, file_sha256

if TYPE_CHECKING:
    from avatarvid.pipelines.vlog import Reference

_REFERENCE_CACHE_SIZE = 8
_references: OrderedDict[tuple, Reference] = OrderedDict()
_progress_queue: Any = None  # a multiprocessing queue in local workers, None under Ray


@dataclass
class Outcome:
    """What happened to one attempt at one job (picklable, sent back to the driver)."""

    key: str
    ok: bool
    staged: str | None = None
    error: str | None = None
    permanent: bool = False  # an input error: retrying with the same inputs cannot help
    sha256: str | None = None
    bytes: int | None = None
    num_frames: int | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    reference_cached: bool = False
    worker: str = ""


def staged_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.staged.mp4")


def leftovers(output: Path) -> list[Path]:
    """Temporary files a killed attempt at `output` may have left (staged or partial)."""
    folder, name = glob.escape(str(output.parent)), glob.escape(output.name)
    return [
        Path(p)
        for pattern in (f"{folder}/.{name}.*", f"{folder}/..{name}.*")
        for p in glob.glob(pattern)
    ]


def init_local_worker(progress_queue: Any, cv_threads: int) -> None:
    """Process-pool initializer: die with the driver (so a SIGKILLed batch leaves no worker
    finishing a job nobody will record), report progress, don't oversubscribe the cores."""
    global _progress_queue
    _progress_queue = progress_queue
    if hasattr(signal, "SIGKILL") and os.uname().sysname == "Linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the driver died before prctl took effect
            os._exit(1)
    import cv2

    cv2.setNumThreads(cv_threads)


def execute(job: Job) -> Outcome:
    """Render `job` to its staged file; every failure becomes an Outcome, never an exception."""
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    staged = staged_path(job.output)
    try:
        if job.problem:
            raise InputError(job.problem)
        info = EXECUTORS[job.kind](job, staged, _reporter(job.key))
        num_frames = probe(staged).num_frames
        return Outcome(
            job.key,
            True,
            staged=str(staged),
            sha256=file_sha256(staged),
            bytes=staged.stat().st_size,
            num_frames=num_frames,
            seconds=round(time.perf_counter() - start, 3),
            worker=worker,
            **info,
        )
    except Exception as e:  # fault isolation: one job's failure is data, not a crash
        staged.unlink(missing_ok=True)
        permanent = isinstance(e, InputError)
        message = str(e) if permanent else f"{type(e).__name__}: {e}"
        return Outcome(
            job.key,
            False,
            error=message,
            permanent=permanent,
            seconds=round(time.perf_counter() - start, 3),
            worker=worker,
        )


def _reporter(key: str) -> Callable[[str, int, int | None], None]:
    """A pipeline progress callback feeding the driver's bar (every 25th frame, as a fraction)."""
    queue = _progress_queue

    def report(stage: str, done: int, total: int | None) -> None:
        if queue is not None and (not total or done % 25 == 0 or done == total):
            queue.put_nowait((key, stage, done / total if total else 0.0))

    return report


# The render stacks (torch, diffusers, mediapipe graphs) are imported in the workers only, on
# their first job, so the driver starts fast and a re-run with nothing to do stays cheap.


def _render_vlog(job: Job, staged: Path, on_progress) -> dict[str, Any]:
    from avatarvid.pipelines.vlog import VlogRequest, render_vlog

    spec = job.spec
    config = VlogConfig.model_validate(spec["config"])
    image = Path(spec["image"])
    start = time.perf_counter()
    reference, cached = _cached_reference(image, config, spec["face_index"])
    perception = time.perf_counter() - start
    request = VlogRequest(
        image,
        Path(spec["audio"]),
        staged,
        config,
        spec["face_index"],
        None if spec["motion_in"] is None else Path(spec["motion_in"]),
    )
    result = render_vlog(request, reference=reference, progress=on_progress)
    timings = {**result.timings, "perception": round(perception, 4)}
    return {"timings": timings, "reference_cached": cached}


def _cached_reference(
    image: Path, config: VlogConfig, face_index: int | None
) -> tuple[Reference, bool]:
    from avatarvid.pipelines.vlog import perceive_reference

    key = (file_sha256(image), config.crop, config.size, face_index)
    if key in _references:
        _references.move_to_end(key)
        return _references[key], True
    reference = perceive_reference(image, config, face_index)
    _references[key] = reference
    while len(_references) > _REFERENCE_CACHE_SIZE:
        _references.popitem(last=False)
    return reference, False


def _render_animate(job: Job, staged: Path, on_progress) -> dict[str, Any]:
    from avatarvid.pipelines.animate import AnimateRequest, render_animate

    spec = job.spec
    audio = None if spec["audio"] is None else Path(spec["audio"])
    config = AnimateConfig.model_validate(spec["config"])
    request = AnimateRequest(Path(spec["image"]), Path(spec["drive"]), staged, config, audio)
    return {"timings": render_animate(request, progress=on_progress).timings}


EXECUTORS: dict[str, Callable[[Job, Path, Any], dict[str, Any]]] = {
    "vlog": _render_vlog,
    "animate": _render_animate,
}
