"""`avatarvid train motion`: trains the audio-to-motion denoiser with accelerate.

x0-prediction on a DDPM schedule, loss = channel-weighted MSE on the clean window plus a
temporal smoothness (velocity) term that includes the step from the last context frame into
the window, so windows join without a seam. Audio and context are dropped independently
(classifier-free guidance). The shared loop (train/loop.py) does the rest: EMA, resume,
export.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from diffusers import DDPMScheduler
from pydantic import BaseModel, ConfigDict, Field

from avatarvid.data.motion_batches import WindowBank
from avatarvid.data.shards import read_split
from avatarvid.errors import InputError
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.schema import MOTION_LAYOUT, MOUTH_CHANNELS
from avatarvid.train import loop
from avatarvid.train.config import ExistingDir, LoopSettings, TrainConfig, load_train_config
from avatarvid.train.loop import Context, fingerprint, shard

log = logging.getLogger(__name__)


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(128, ge=8)
    layers: int = Field(4, ge=1)
    heads: int = Field(4, ge=1)
    window: int = Field(40, ge=1)
    context: int = Field(10, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)


class MotionLoopSettings(LoopSettings):
    steps: int = Field(6000, ge=1)
    lr: float = Field(3e-4, gt=0)
    warmup: int = Field(200, ge=0)
    ema_decay: float = Field(0.999, ge=0, lt=1)
    log_every: int = Field(100, ge=1)
    batch_size: int = Field(64, ge=1)
    audio_dropout: float = Field(0.1, ge=0, le=1)
    context_dropout: float = Field(0.25, ge=0, le=1)
    smooth_weight: float = Field(1.0, ge=0)
    mouth_weight: float = Field(3.0, gt=0)
    augment_copies: int = Field(2, ge=0)


class MotionTrainConfig(TrainConfig):
    data: ExistingDir  # `avatarvid data tts --out DIR`
    model: ModelSettings = ModelSettings()
    train: MotionLoopSettings = MotionLoopSettings()


Prediction = Literal["sample", "v_prediction"]


def train_scheduler(model: MotionDenoiser, prediction_type: Prediction = "sample") -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=model.config.num_train_timesteps,
        beta_schedule=model.config.beta_schedule,
        prediction_type=prediction_type,
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
    forward: Callable[..., torch.Tensor] | None = None,
) -> torch.Tensor:
    """Loss on one batch of crops: features (B, K+W, F), raw motion (B, K+W, D). `forward`
    (default: `model`) is the call that predicts, e.g. the DDP wrapper around `model`. With a
    v-prediction scheduler the loss is plain MSE on v (the smoothness term needs x0)."""
    k = model.config.context
    b = motion.shape[0]
    x = model.normalize(motion)
    context, clean = x[:, :k], x[:, k:]
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=generator)
    noise = torch.randn(clean.shape, generator=generator)
    noisy = scheduler.add_noise(clean, noise, t)
    use_audio = torch.rand(b, generator=generator) >= audio_dropout
    use_context = torch.rand(b, generator=generator) >= context_dropout
    pred = (forward or model)(noisy, t, features, context, use_audio, use_context)
    if scheduler.config.prediction_type == "v_prediction":
        return ((pred - scheduler.get_velocity(clean, noise, t)) ** 2 * weights).mean()
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


class MotionTask:
    """Random crops of this rank's share of the training windows; held-out-voice validation."""

    def __init__(self, cfg: MotionTrainConfig, ctx: Context):
        s = cfg.train
        train_clips = read_split(cfg.data, "train")
        val_clips = read_split(cfg.data, "val")
        if not train_clips or not val_clips:
            raise InputError(f"{cfg.data} needs both train and val clips (avatarvid data tts)")
        length = cfg.model.context + cfg.model.window
        t0 = time.time()
        try:
            self.bank = WindowBank.build(shard(train_clips, ctx), length, s.augment_copies, s.seed)
            self.val_bank = WindowBank.build(val_clips, length, 1, s.seed + 1)
        except ValueError as e:
            raise InputError(f"{cfg.data}: {e}") from None
        log.info("features: %d train frames in %.0f s", len(self.bank.motion), time.time() - t0)
        mean, std = motion_stats(train_clips)
        self.model = MotionDenoiser(
            **cfg.model.model_dump(), fps=train_clips[0].fps, motion_mean=mean, motion_std=std
        )
        self.noise_scheduler = train_scheduler(self.model)
        self.weights = channel_weights(s.mouth_weight).to(ctx.device)
        self.s, self.ctx = s, ctx

    def loss(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, str]:
        s, ctx = self.s, self.ctx
        f, m = self.bank.batch(ctx.rng, s.batch_size)
        loss = diffusion_loss(
            self.model,
            self.noise_scheduler,
            torch.from_numpy(f).to(ctx.device),
            torch.from_numpy(m).to(ctx.device),
            ctx.generator,
            self.weights,
            s.audio_dropout,
            s.context_dropout,
            s.smooth_weight,
            forward=model,
        )
        return loss, fingerprint(m)

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        """Fixed-seed loss on held-out-voice crops (no condition dropout)."""
        rng = np.random.default_rng(1234)
        gen = torch.Generator().manual_seed(1234)
        losses = []
        for _ in range(4):
            f, m = self.val_bank.batch(rng, self.s.batch_size)
            f, m = torch.from_numpy(f).to(self.ctx.device), torch.from_numpy(m).to(self.ctx.device)
            losses.append(
                diffusion_loss(
                    model,
                    self.noise_scheduler,
                    f,
                    m,
                    gen,
                    self.weights,
                    0.0,
                    0.0,
                    self.s.smooth_weight,
                ).item()
            )
        return {"val_loss_ema": float(np.mean(losses))}

    def finish(self, model: torch.nn.Module, export: Path, progress: dict) -> None:
        pass


def train(config_path: Path, resume: bool, device: str = "auto") -> int:
    cfg = load_train_config(config_path, MotionTrainConfig)
    return loop.run(cfg, lambda ctx: MotionTask(cfg, ctx), resume, device)
