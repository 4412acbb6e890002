"""Training configs: one pydantic schema per target over a shared base, validated once.

Every config names a run directory (`output`: resumable state and `log.jsonl`), a model
directory (`export`: EMA weights, `config.json`, `scheduler_config.json`) and the loop's
settings (`train:`); targets add their data and model fields. Relative paths are taken from
the current directory. Any problem (missing file, bad YAML, unknown key, wrong type) is one
`InputError` line naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from avatarvid.errors import InputError
from avatarvid.safe_yaml import load_yaml


def _existing_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ValueError(f"{path} is not a directory")
    return path


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    return path


ExistingDir = Annotated[Path, AfterValidator(_existing_dir)]
ExistingFile = Annotated[Path, AfterValidator(_existing_file)]


class LoopSettings(BaseModel):
    """What the shared loop (train/loop.py) needs: optimiser, schedule, EMA, budget, cadence."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(1000, ge=1)  # optimizer steps in total, over all resumed runs
    lr: float = Field(1e-3, gt=0)
    # diffusers.optimization.get_scheduler names; "cosine_with_restarts" uses lr_cycles
    lr_schedule: Literal["cosine", "cosine_with_restarts", "constant_with_warmup", "linear"] = (
        "cosine"
    )
    lr_cycles: int = Field(1, ge=1)
    warmup: int = Field(0, ge=0)
    weight_decay: float = Field(0.01, ge=0)
    grad_clip: float = Field(1.0, ge=0)  # max gradient norm; 0 = no clipping
    ema_decay: float = Field(0.0, ge=0, lt=1)  # 0 = export the trained weights themselves
    seed: int = Field(0, ge=0)  # rank r draws with seed + r
    # torch threads per process (0 = torch's default). Small batches on a shared CPU: one
    # thread was ~7x faster than two (OpenMP workers spin while other processes hold cores).
    threads: int = Field(1, ge=0)
    log_every: int = Field(50, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    max_minutes: float = Field(0.0, ge=0)  # wall time over all resumed runs; 0 = no limit


class TrainConfig(BaseModel):
    """The fields every target shares."""

    model_config = ConfigDict(extra="forbid")
    output: Path
    export: Path
    train: LoopSettings = LoopSettings()


Config = TypeVar("Config", bound=TrainConfig)


def load_train_config(path: Path, schema: type[Config]) -> Config:
    """`path` parsed and validated against `schema`, or one line saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        problem = "is a directory, not a YAML file" if path.is_dir() else "does not exist"
        raise InputError(f"training config {path} {problem}")
    data = load_yaml(path, "training config")
    if not isinstance(data, dict):
        raise InputError(f"training config {path} must be a mapping of settings")
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in e.errors()
        )
        raise InputError(f"invalid training config {path}: {problems}") from None
