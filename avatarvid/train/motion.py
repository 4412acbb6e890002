"""`avatarvid train motion`: trains the audio-to-motion denoiser with accelerate.

x0-prediction on a DDPM schedule, loss = channel-weighted MSE on the clean window plus a
temporal smoothness (velocity) term that includes the step from the last context frame into
the window, so windows join without a seam. Audio and context are dropped independently
(classifier-free guidance). EMA weights are what gets exported. `--resume` continues from the
last saved accelerator state.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from accelerate import Accelerator
from diffusers import DDPMScheduler
from diffusers.training_utils import EMAModel
from pydantic import BaseModel, ConfigDict

from avatarvid.data.motion_batches import WindowBank
from avatarvid.data.shards import read_split
from avatarvid.data.visemes import MOUTH_CHANNELS
from avatarvid.errors import InputError
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.sampling.schedulers import save_scheduler

log = logging.getLogger(__name__)


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = 128
    layers: int = 4
    heads: int = 4
    window: int = 40
    context: int = 10
    dropout: float = 0.1


class TrainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = 6000
    batch_size: int = 64
    lr: float = 3e-4
    warmup: int = 200
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    audio_dropout: float = 0.1
    context_dropout: float = 0.25
    smooth_weight: float = 1.0
    mouth_weight: float = 3.0
    augment_copies: int = 2
    seed: int = 0
    log_every: int = 100
    save_every: int = 500
    threads: int = 1  # small batches: a 2nd thread only adds contention (measured)
    max_minutes: float = 0.0  # 0 = no wall-clock limit


class MotionTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: Path
    output: Path
    export: Path | None = None
    model: ModelSettings = ModelSettings()
    train: TrainSettings = TrainSettings()


def load_train_config(path: Path) -> MotionTrainConfig:
    """The YAML config; relative paths are taken relative to the current directory."""
    try:
        return MotionTrainConfig.model_validate(yaml.safe_load(Path(path).read_text()))
    except Exception as e:  # pydantic or YAML: one line for the user
        raise InputError(f"invalid motion training config {path}: {e}".splitlines()[0]) from None


def train_scheduler(model: MotionDenoiser) -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=model.config.num_train_timesteps,
        beta_schedule=model.config.beta_schedule,
        prediction_type="sample",
        clip_sample=False,
    )


def channel_weights(mouth_weight: float) -> torch.Tensor:
    w = torch.ones(MOTION_LAYOUT.dim)
    w[MOTION_LAYOUT.indices(MOUTH_CHANNELS)] = mouth_weight
    return w / w.mean()


def diffusion_loss(
    model: MotionDenoiser,
    scheduler: DDPMScheduler,
    features: torch.Tensor,
    motion: torch.Tensor,
    generator: torch.Generator,
    weights: torch.Tensor,
    audio_dropout: float = 0.1,
    context_dropout: float = 0.25,
    smooth_weight: float = 1.0,
) -> torch.Tensor:
    """Loss on one batch of crops: features (B, K+W, F), raw motion (B, K+W, D)."""
    k = model.config.context
    b = motion.shape[0]
    x = model.normalize(motion)
    context, clean = x[:, :k], x[:, k:]
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=generator)
    noisy = scheduler.add_noise(clean, torch.randn(clean.shape, generator=generator), t)
    use_audio = torch.rand(b, generator=generator) >= audio_dropout
    use_context = torch.rand(b, generator=generator) >= context_dropout
    pred = model(noisy, t, features, context, use_audio, use_context)
    mse = ((pred - clean) ** 2 * weights).mean()
    # velocity, including the step out of the (known) context frames when they are given
    joined_pred = torch.cat([context[:, -1:], pred], dim=1)
    joined_true = torch.cat([context[:, -1:], clean], dim=1)
    vel_err = (joined_pred.diff(dim=1) - joined_true.diff(dim=1)) ** 2 * weights
    vel_err[:, 0] *= use_context[:, None].float()
    return mse + smooth_weight * vel_err.mean()


def motion_stats(clips) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the training motion (std floored for constant channels)."""
    values = np.concatenate([c.motion for c in clips])
    return values.mean(0).tolist(), np.maximum(values.std(0), 1e-3).tolist()


def _lr_lambda(warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return f


def _validation_loss(model, scheduler, bank: WindowBank, weights, settings: TrainSettings) -> float:
    """Fixed-seed loss on held-out-voice crops (no condition dropout)."""
    rng = np.random.default_rng(1234)
    gen = torch.Generator().manual_seed(1234)
    losses = []
    model.eval()
    with torch.no_grad():
        for _ in range(4):
            f, m = bank.batch(rng, settings.batch_size)
            losses.append(
                diffusion_loss(model, scheduler, torch.from_numpy(f), torch.from_numpy(m), gen,
                               weights, 0.0, 0.0, settings.smooth_weight).item()
            )
    model.train()
    return float(np.mean(losses))


def train(config_path: Path, resume: bool) -> int:
    cfg = load_train_config(config_path)
    s = cfg.train
    torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    accelerator = Accelerator()
    train_clips = read_split(cfg.data, "train")
    val_clips = read_split(cfg.data, "val")
    length = cfg.model.context + cfg.model.window
    t0 = time.time()
    bank = WindowBank.build(train_clips, length, s.augment_copies, s.seed)
    val_bank = WindowBank.build(val_clips, length, 1, s.seed + 1)
    log.warning("features: %d train frames in %.0f s", len(bank.motion), time.time() - t0)
    mean, std = motion_stats(train_clips)
    model = MotionDenoiser(**cfg.model.model_dump(), fps=train_clips[0].fps,
                           motion_mean=mean, motion_std=std)
    scheduler = train_scheduler(model)
    ema = EMAModel(model.parameters(), decay=s.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    lr_sched = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(s.warmup, s.steps))
    model, optimizer, lr_sched = accelerator.prepare(model, optimizer, lr_sched)
    accelerator.register_for_checkpointing(ema)
    state_dir, log_path = cfg.output / "state", cfg.output / "log.jsonl"
    cfg.output.mkdir(parents=True, exist_ok=True)
    step = 0
    if resume and (state_dir / "step.json").is_file():
        accelerator.load_state(str(state_dir))
        step = json.loads((state_dir / "step.json").read_text())["step"]
    weights = channel_weights(s.mouth_weight).to(accelerator.device)
    rng = np.random.default_rng(s.seed + step)
    gen = torch.Generator().manual_seed(s.seed + step)
    start, running = time.time(), []
    while step < s.steps:
        f, m = bank.batch(rng, s.batch_size)
        loss = diffusion_loss(
            model, scheduler, torch.from_numpy(f).to(accelerator.device),
            torch.from_numpy(m).to(accelerator.device), gen, weights,
            s.audio_dropout, s.context_dropout, s.smooth_weight,
        )
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        lr_sched.step()
        optimizer.zero_grad()
        ema.step(model.parameters())
        running.append(loss.item())
        step += 1
        minutes = (time.time() - start) / 60
        out_of_time = s.max_minutes > 0 and minutes >= s.max_minutes
        if step % s.log_every == 0 or step == s.steps or out_of_time:
            ema.store(model.parameters())
            ema.copy_to(model.parameters())
            val = _validation_loss(model, scheduler, val_bank, weights, s)
            ema.restore(model.parameters())
            record = {"step": step, "loss": float(np.mean(running)), "val_loss_ema": val,
                      "minutes": round(minutes, 2), "cpu_s": round(time.process_time(), 1)}
            running = []
            with open(log_path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            log.warning("%s", record)
        if step % s.save_every == 0 or step == s.steps or out_of_time:
            accelerator.save_state(str(state_dir))
            (state_dir / "step.json").write_text(json.dumps({"step": step}))
        if out_of_time:
            break
    if cfg.export is not None and accelerator.is_main_process:
        final = accelerator.unwrap_model(model)
        ema.copy_to(final.parameters())
        final.save_pretrained(cfg.export, safe_serialization=True)
        save_scheduler(scheduler, cfg.export)
        log.warning("exported EMA weights to %s", cfg.export)
    return 0
