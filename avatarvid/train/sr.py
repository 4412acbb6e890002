"""`avatarvid train sr --config configs/train/sr_fast.yaml`: train an SRNet.

The one-pass variant regresses the residual over bicubic (L1). The diffusion variant learns
to predict that residual (x0 / "sample" parameterisation, diffusers DDIM noise schedule)
from its noised version, with noise-conditioning augmentation: Gaussian noise of a random
level is added to the low-resolution input and the level is given to the network, so at
sampling time the cascade tolerates the artefacts of the stage before it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avatarvid.data.sr_clips import ClipSampler, expand_sources
from avatarvid.errors import InputError
from avatarvid.models.sr_net import SRNet, bicubic
from avatarvid.sampling.schedulers import save_scheduler
from avatarvid.sampling.sr import make_scheduler

MAX_AUG = 0.1  # largest noise-conditioning sigma on [0, 1] inputs


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: Literal[2] = 2
    channels: int = Field(24, ge=4, le=128)
    num_blocks: int = Field(3, ge=1, le=16)
    temporal_every: int = Field(2, ge=1, le=16)
    guided: bool = True


class DataSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    images: list[str] = []
    videos: list[str] = []
    exclude: list[str] = []  # file names held out for evaluation
    frames: int = Field(5, ge=1, le=32)
    patch: int = Field(96, ge=16, le=512)
    max_video_frames: int = Field(300, ge=1)


class TrainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = Field(2000, ge=1)
    batch_clips: int = Field(4, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
    threads: int = Field(2, ge=1)
    max_minutes: float | None = Field(None, gt=0)
    log_every: int = Field(50, ge=1)


class SRTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    output: Path
    variant: Literal["fast", "diffusion"] = "fast"
    model: ModelSettings = ModelSettings()
    data: DataSettings = DataSettings()
    train: TrainSettings = TrainSettings()


def load_train_config(path: Path) -> SRTrainConfig:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
        return SRTrainConfig.model_validate(data)
    except (yaml.YAMLError, ValidationError) as e:
        raise InputError(f"invalid SR training config {path}: {e}".splitlines()[0]) from None


def diffusion_loss(model: SRNet, scheduler, lr, residual, guide, mask, frames) -> torch.Tensor:
    """L1 between the predicted and true scaled residual at a random step and aug level."""
    n = lr.shape[0]
    clips = n // frames
    per_clip = lambda v: v.repeat_interleave(frames)  # noqa: E731 (one level per clip)
    t = per_clip(torch.randint(0, scheduler.config.num_train_timesteps, (clips,)))
    aug = per_clip(torch.rand(clips) * MAX_AUG * (torch.rand(clips) < 0.7))
    target = residual * model.config.residual_scale
    noisy = scheduler.add_noise(target, torch.randn_like(target), t)
    lr_aug = lr + aug[:, None, None, None] * torch.randn_like(lr)
    pred = model(lr_aug, frames, guide, mask, noisy=noisy, timestep=t, aug_level=aug)
    return F.l1_loss(pred, target)


def train(config_path: Path, resume: bool) -> int:
    """Train per `config_path`; the checkpoint goes to `output` (save_pretrained)."""
    from accelerate import Accelerator

    cfg = load_train_config(config_path)
    torch.manual_seed(cfg.train.seed)
    torch.set_num_threads(cfg.train.threads)
    data = cfg.data
    sampler = ClipSampler(
        expand_sources(data.images, data.exclude),
        expand_sources(data.videos, data.exclude),
        data.frames,
        data.patch,
        cfg.model.scale,
        data.max_video_frames,
        seed=cfg.train.seed,
    )
    output = Path(cfg.output)
    if resume and (output / "config.json").is_file():
        model = SRNet.from_pretrained(output)
    else:
        model = SRNet(**cfg.model.model_dump(), diffusion=cfg.variant == "diffusion")
    scheduler = make_scheduler(model)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.learning_rate)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step / cfg.train.steps, 1.0)))
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    start, cpu_start = time.perf_counter(), time.process_time()
    running, steps_done = 0.0, 0
    for step in range(cfg.train.steps):
        batch = sampler.batch(cfg.train.batch_clips)
        lr, hr = batch.lr.to(accelerator.device), batch.hr.to(accelerator.device)
        guide, mask = batch.guide.to(lr.device), batch.mask.to(lr.device)
        residual = hr - bicubic(lr, cfg.model.scale)
        if cfg.variant == "diffusion":
            net = accelerator.unwrap_model(model)
            loss = diffusion_loss(net, scheduler, lr, residual, guide, mask, batch.num_frames)
        else:
            loss = F.l1_loss(model(lr, batch.num_frames, guide, mask), residual)
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        lr_schedule.step()
        running += loss.item()
        steps_done = step + 1
        if steps_done % cfg.train.log_every == 0:
            print(f"step {steps_done} loss {running / cfg.train.log_every:.5f}", flush=True)
            running = 0.0
        minutes = (time.perf_counter() - start) / 60
        if cfg.train.max_minutes is not None and minutes > cfg.train.max_minutes:
            break
    output.mkdir(parents=True, exist_ok=True)
    accelerator.unwrap_model(model).save_pretrained(output)
    save_scheduler(scheduler, output)
    run = {
        "steps": steps_done,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu_start, 1),
    }
    stats = _history(output / "training.json", run, resume)
    stats.update(variant=cfg.variant, config=str(config_path))
    (output / "training.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(f"saved {output} after {steps_done} steps ({run['wall_seconds']} s)")
    return 0


def _history(path: Path, run: dict, resume: bool) -> dict:
    """Totals over all runs (a resumed run continues the previous ones) plus each run."""
    runs = json.loads(path.read_text()).get("runs", []) if resume and path.is_file() else []
    runs.append(run)
    totals = {k: round(sum(r[k] for r in runs), 1) for k in run}
    totals["steps"] = int(totals["steps"])
    return {**totals, "runs": runs}
