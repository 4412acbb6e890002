"""`avatarvid train motion-prior`: the audio-free prior over head, brows and gaze, on real video.

The same denoiser as the audio-to-motion model (`MotionDenoiser` with `audio_dim=0`) and the
same loss (x0 MSE + velocity, context dropped for the first window), on real tracks
(data/real_motion.py). The export also holds `real_motion_stats.json`: per-channel amplitude and
speed of each set's tracks, and the clips' own statistics (`avatarvid data clips`: spectra,
head angles, blink rate and intervals per person), what sampled motion is measured against.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from avatarvid.data.real_motion import PRIOR_CHANNELS, PriorWindows, load_real_motion
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.train import loop
from avatarvid.train.config import ExistingDir, TrainConfig, load_train_config
from avatarvid.train.loop import Context, fingerprint
from avatarvid.train.motion import (
    ModelSettings,
    MotionLoopSettings,
    Prediction,
    diffusion_loss,
    train_scheduler,
)


class PriorModelSettings(ModelSettings):
    window: int = Field(75, ge=1)
    context: int = Field(25, ge=1)
    fps: float = Field(25.0, gt=0)
    # x0 ("sample") prediction, smoothed by its velocity loss, sampled slow drifts: real
    # heads' 0.2-2 Hz nods and turns came out 5-8x too slow at 20-40 solver steps
    prediction: Prediction = "v_prediction"


class PriorTrainConfig(TrainConfig):
    data: ExistingDir  # `avatarvid data clips --out DIR`
    model: PriorModelSettings = PriorModelSettings()
    train: MotionLoopSettings = MotionLoopSettings()
    val_fraction: float = Field(0.15, gt=0, lt=1)  # the end of each training clip validates


def _empty_audio(motion: torch.Tensor) -> torch.Tensor:
    return motion.new_zeros(*motion.shape[:2], 0)


def track_stats(tracks: list[np.ndarray], fps: float) -> dict:
    """Per-channel std and mean absolute frame-to-frame speed (per second) of real tracks."""
    values = np.concatenate(tracks)
    speed = np.concatenate([np.abs(np.diff(t, axis=0)) * fps for t in tracks])
    return {
        "fps": fps,
        "seconds": len(values) / fps,
        "channels": list(PRIOR_CHANNELS),
        "std": dict(zip(PRIOR_CHANNELS, map(float, values.std(0)), strict=True)),
        "mean_speed": dict(zip(PRIOR_CHANNELS, map(float, speed.mean(0)), strict=True)),
    }


class PriorTask:
    """Random real crops; validation = the held-back end of the training clips."""

    def __init__(self, cfg: PriorTrainConfig, ctx: Context):
        m = cfg.model
        self.real = load_real_motion(cfg.data, m.fps, cfg.val_fraction)
        length = m.context + m.window
        self.bank = PriorWindows(self.real.train, length)
        self.val_bank = PriorWindows(self.real.val, length, speeds=(1.0,))
        mean = self.bank.motion.mean(0).tolist()
        std = np.maximum(self.bank.motion.std(0), 1e-3).tolist()
        self.model = MotionDenoiser(
            motion_dim=len(PRIOR_CHANNELS),
            audio_dim=0,
            channels=list(PRIOR_CHANNELS),
            motion_mean=mean,
            motion_std=std,
            **m.model_dump(exclude={"prediction"}),
        )
        self.noise_scheduler = train_scheduler(self.model, m.prediction)
        self.weights = torch.ones(len(PRIOR_CHANNELS), device=ctx.device)
        self.s, self.ctx, self.data = cfg.train, ctx, cfg.data

    def _loss(self, forward, m: np.ndarray, generator, dropout: bool) -> torch.Tensor:
        x = torch.from_numpy(m).to(self.ctx.device)
        return diffusion_loss(
            self.model,
            self.noise_scheduler,
            _empty_audio(x),
            x,
            generator,
            self.weights,
            1.0,
            self.s.context_dropout if dropout else 0.0,
            self.s.smooth_weight,
            forward=forward,
        )

    def loss(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, str]:
        m = self.bank.batch(self.ctx.rng, self.s.batch_size)
        return self._loss(model, m, self.ctx.generator, True), fingerprint(m)

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        """Fixed-seed loss on the validation crops (context given)."""
        rng, gen = np.random.default_rng(1234), torch.Generator().manual_seed(1234)
        losses = [
            self._loss(model, self.val_bank.batch(rng, self.s.batch_size), gen, False)
            for _ in range(4)
        ]
        return {"val_loss_ema": float(torch.stack(losses).mean())}

    def finish(self, model: torch.nn.Module, export: Path, progress: dict) -> None:
        fps = self.model.config.fps
        stats = {
            "sources": self.real.sources,
            **{
                split: track_stats(getattr(self.real, split), fps)
                for split in ("train", "val", "test")
                if getattr(self.real, split)
            },
        }
        clips_stats = self.data / "motion_stats.json"
        if clips_stats.is_file():
            stats["clips"] = json.loads(clips_stats.read_text())
        (export / "real_motion_stats.json").write_text(json.dumps(stats, indent=1) + "\n")


def train(config_path: Path, resume: bool, device: str = "auto") -> int:
    cfg = load_train_config(config_path, PriorTrainConfig)
    return loop.run(cfg, lambda ctx: PriorTask(cfg, ctx), resume, device)
