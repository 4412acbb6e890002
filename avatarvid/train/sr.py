"""`avatarvid train sr --config configs/train/sr_fast.yaml`: train an SRNet.

The one-pass variant regresses the residual over bicubic (L1). The diffusion variant learns
to predict that residual (x0 / "sample" parameterisation, diffusers DDIM noise schedule)
from its noised version, with noise-conditioning augmentation: Gaussian noise of a random
level is added to the low-resolution input and the level is given to the network, so at
sampling time the cascade tolerates the artefacts of the stage before it. No EMA by default
(`train.ema_decay: 0`): the shipped models export the trained weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from avatarvid.data.sr_clips import ClipSampler, expand_sources
from avatarvid.models.sr_net import SRNet, bicubic
from avatarvid.sampling.sr import make_scheduler
from avatarvid.train import loop
from avatarvid.train.config import LoopSettings, TrainConfig, load_train_config
from avatarvid.train.loop import Context, fingerprint, shard

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
    # file name -> [start, end] fractions of the video that train (the rest validates)
    spans: dict[str, tuple[float, float]] = {}
    face_videos: list[str] = []  # file names whose clips get real reference guides
    real_guide_prob: float = Field(0.75, ge=0, le=1)
    video_prob: float = Field(0.6, ge=0, le=1)  # share of clips cut from videos (vs photos)


class SRLoopSettings(LoopSettings):
    steps: int = Field(2000, ge=1)
    grad_clip: float = Field(0.0, ge=0)
    batch_clips: int = Field(4, ge=1)


class SRTrainConfig(TrainConfig):
    variant: Literal["fast", "diffusion"] = "fast"
    model: ModelSettings = ModelSettings()
    data: DataSettings = DataSettings()
    train: SRLoopSettings = SRLoopSettings()
    init_from: Path | None = None  # start from these weights (same model settings)


def diffusion_loss(
    model: SRNet, scheduler, lr, residual, guide, mask, frames, forward=None
) -> torch.Tensor:
    """L1 between the predicted and true scaled residual at a random step and aug level;
    `forward` (default: `model`) is the call that predicts, e.g. the DDP wrapper."""
    n = lr.shape[0]
    clips = n // frames
    per_clip = lambda v: v.repeat_interleave(frames)  # noqa: E731 (one level per clip)
    t = per_clip(torch.randint(0, scheduler.config.num_train_timesteps, (clips,)))
    aug = per_clip(torch.rand(clips) * MAX_AUG * (torch.rand(clips) < 0.7))
    target = residual * model.config.residual_scale
    noisy = scheduler.add_noise(target, torch.randn_like(target), t)
    lr_aug = lr + aug[:, None, None, None] * torch.randn_like(lr)
    pred = (forward or model)(lr_aug, frames, guide, mask, noisy=noisy, timestep=t, aug_level=aug)
    return F.l1_loss(pred, target)


class SRTask:
    """Random degraded clips from this rank's share of the images and videos."""

    def __init__(self, cfg: SRTrainConfig, ctx: Context):
        data = cfg.data
        self.sampler = ClipSampler(
            shard(expand_sources(data.images, data.exclude), ctx),
            shard(expand_sources(data.videos, data.exclude), ctx),
            data.frames,
            data.patch,
            cfg.model.scale,
            data.max_video_frames,
            seed=ctx.rng,  # the loop's per-rank stream, saved and restored on resume
            spans=data.spans,
            face_videos=tuple(data.face_videos),
            real_guide_prob=data.real_guide_prob,
            video_prob=data.video_prob,
        )
        self.model = SRNet(**cfg.model.model_dump(), diffusion=cfg.variant == "diffusion")
        if cfg.init_from is not None:
            init = SRNet.from_pretrained(cfg.init_from)
            self.model.load_state_dict(init.state_dict())
        self.noise_scheduler = make_scheduler(self.model)
        self.cfg, self.ctx = cfg, ctx

    def loss(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, str]:
        batch = self.sampler.batch(self.cfg.train.batch_clips)
        device = self.ctx.device
        lr, hr = batch.lr.to(device), batch.hr.to(device)
        guide, mask = batch.guide.to(device), batch.mask.to(device)
        residual = hr - bicubic(lr, self.cfg.model.scale)
        if self.cfg.variant == "diffusion":
            loss = diffusion_loss(
                self.model,
                self.noise_scheduler,
                lr,
                residual,
                guide,
                mask,
                batch.num_frames,
                forward=model,
            )
        else:
            loss = F.l1_loss(model(lr, batch.num_frames, guide, mask), residual)
        return loss, fingerprint(batch.hr)

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        return {}

    def finish(self, model: torch.nn.Module, export: Path, progress: dict) -> None:
        pass


def train(config_path: Path, resume: bool, device: str = "auto") -> int:
    """Train per `config_path`; the model goes to `export` (save_pretrained)."""
    cfg = load_train_config(config_path, SRTrainConfig)
    return loop.run(cfg, lambda ctx: SRTask(cfg, ctx), resume, device)
