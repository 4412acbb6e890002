"""Noise schedulers travel with the weights: one way to save and rebuild them (diffusers').

A model directory holds `scheduler_config.json` next to `config.json`; sampling rebuilds the
training schedule from it and may swap the solver (DDIM <-> DPM-Solver++) or override sampling
options (`timestep_spacing`, `clip_sample`, ...) without touching the file.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from avatarvid.errors import CheckpointError

SCHEDULER_FILE = "scheduler_config.json"
SOLVERS: dict[str, type[SchedulerMixin]] = {
    "ddpm": DDPMScheduler,
    "ddim": DDIMScheduler,
    "dpm": DPMSolverMultistepScheduler,
}


def save_scheduler(scheduler: SchedulerMixin, directory: str | Path) -> None:
    scheduler.save_config(str(directory))


def load_scheduler(
    directory: str | Path, solver: str | None = None, **overrides
) -> SchedulerMixin:
    """The scheduler saved in `directory`, as `solver` ("ddim", "dpm", "ddpm"; default: the
    saved class) with `overrides` applied."""
    path = Path(directory) / SCHEDULER_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint in {directory} is incomplete")
    config = DDPMScheduler.load_config(str(directory))
    if solver is None:
        name = config.get("_class_name", "DDPMScheduler")
        cls = next((c for c in SOLVERS.values() if c.__name__ == name), None)
        if cls is None:
            raise CheckpointError(f"{path}: unsupported scheduler {name}")
    else:
        cls = SOLVERS[solver]
    return cls.from_config(config, **overrides)
