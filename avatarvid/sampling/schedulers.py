"""Noise schedulers travel with the weights: one way to save and rebuild them (diffusers').

A model directory holds `scheduler_config.json` next to `config.json`: the noise schedule the
model was trained on (betas, prediction type, `clip_sample`), written by `save_scheduler`.
Sampling rebuilds it with `load_scheduler` / `solver_from_config` and may swap the solver
(DDPM -> DDIM or DPM-Solver++) or override sampling options (`timestep_spacing`, ...) without
touching the file.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """Writes `directory`/scheduler_config.json (diffusers' format, class name included)."""
    scheduler.save_config(str(directory))


def solver_from_config(config: Mapping, solver: str | None = None, **overrides) -> SchedulerMixin:
    """A scheduler on the schedule `config` describes, as `solver` ("ddpm", "ddim", "dpm";
    default: the saved class) with `overrides` applied. Keys only the saved class knows (e.g.
    DDPM's `variance_type` for DDIM) are dropped by diffusers, not passed on."""
    name = config.get("_class_name", "DDPMScheduler")
    if solver is None:
        cls = next((c for c in SOLVERS.values() if c.__name__ == name), None)
        if cls is None:
            raise CheckpointError(f"unsupported scheduler {name}")
    elif solver in SOLVERS:
        cls = SOLVERS[solver]
    else:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    return cls.from_config({"_class_name": name, **config}, **overrides)


def load_scheduler(directory: str | Path, solver: str | None = None, **overrides) -> SchedulerMixin:
    """The scheduler saved in `directory` (see `solver_from_config`)."""
    path = Path(directory) / SCHEDULER_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint in {directory} is incomplete")
    return solver_from_config(DDPMScheduler.load_config(str(directory)), solver, **overrides)
