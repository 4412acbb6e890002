"""`avatarvid train renderer-distill --config configs/train/renderer_distill.yaml`: a one-pass
student of the diffusion renderer.

The teacher's preset averages several few-step samples per frame (2 DDIM steps x 4 samples =
8 network passes): the average approximates the conditional mean of the correction, and the
samples are what cost the time. The student, a copy of the teacher (same config, initialised
from its weights), learns that average directly: its input is a zero sample at t = T, so it is
a deterministic function of the conditions, and its x0 estimate there (v-prediction, as the
teacher's first DDIM step reads it) is regressed onto the teacher's averaged output for the same
clip. The teacher's outputs are sampled once for every training clip (with its preset settings,
classifier-free guidance off) and cached in the run directory; the student then trains on
whole clips, temporal layers on, as it runs. It is exported with `distilled: true` in its
config.json, which makes the sampler run it once per frame (sampling/renderer.py).
The clips are the teacher's own (`data`: its training config; built and cached as `avatarvid
train renderer` does); `metrics.json` scores the warp, the teacher (its preset and one sample)
and the student on the validation and held-out clips.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from avatarvid.data.renderer_clips import ClipSet
from avatarvid.evaluate.renderer import clip_scores, score, whole_clip
from avatarvid.models.renderer_unet import RendererUNet
from avatarvid.sampling.renderer import RendererSampling, WindowSampler
from avatarvid.sampling.schedulers import load_scheduler
from avatarvid.stages.refiner import condition, load_renderer, to_tensor
from avatarvid.train import loop
from avatarvid.train.config import (
    ExistingDir,
    ExistingFile,
    LoopSettings,
    TrainConfig,
    load_train_config,
)
from avatarvid.train.loop import Context, fingerprint, shard
from avatarvid.train.renderer import RendererTrainConfig, clip_sets, one_pass_x0

log = logging.getLogger(__name__)


class DistillLoopSettings(LoopSettings):
    steps: int = Field(1000, ge=1)
    lr: float = Field(2e-4, gt=0)
    warmup: int = Field(50, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: float = Field(0.99, ge=0, lt=1)
    log_every: int = Field(20, ge=1)
    checkpoint_every: int = Field(100, ge=1)


class DistillTrainConfig(TrainConfig):
    """`output` also caches the teacher's outputs on the training clips."""

    teacher: ExistingDir  # the renderer checkpoint to distill
    data: ExistingFile  # the teacher's training config: its clip sets are the student's
    teacher_steps: int = Field(2, ge=1)  # the teacher's sampling (the diffusion preset's)
    teacher_samples: int = Field(4, ge=1)
    batch_clips: int = Field(2, ge=1)
    train: DistillLoopSettings = DistillLoopSettings()


def student_from(teacher: RendererUNet) -> RendererUNet:
    """A copy of `teacher` (config and weights) marked as a one-pass student."""
    config = {k: v for k, v in teacher.config.items() if not k.startswith("_")}
    student = RendererUNet.from_config(config, distilled=True)
    student.load_state_dict(teacher.state_dict())
    return student


def teacher_targets(
    teacher: RendererUNet, schedule: dict, clips: ClipSet, settings: RendererSampling, seed: int
) -> np.ndarray:
    """(N, F, 3, S, S) float16: the teacher's sampled correction to the warp of every clip, in
    the network's units (times `residual_scale`), each clip drawn with generator seed + index."""
    sampler = WindowSampler(teacher, schedule, settings)
    scale = float(teacher.config.residual_scale)
    out = []
    for i, parts in enumerate(clips.condition_inputs()):
        warped = to_tensor(parts[0])
        gen = torch.Generator().manual_seed(seed + i)
        x = sampler.sample_chunk(warped, condition(*parts), None, gen)
        out.append(((x - warped) * scale).numpy().astype(np.float16))
        if (i + 1) % 50 == 0:
            log.info("teacher outputs: %d / %d clips", i + 1, len(clips.gt))
    return np.stack(out)


def _cached_targets(
    teacher: RendererUNet, schedule: dict, clips: ClipSet, cfg: DistillTrainConfig
) -> np.ndarray:
    """`teacher_targets` of the training clips, cached under a name that changes with the
    teacher's weights, the clips and the sampling settings."""
    settings = whole_clip(clips.gt.shape[1], cfg.teacher_steps, 1.0, cfg.teacher_samples)
    key = fingerprint(*teacher.state_dict().values(), clips.warped, clips.gt)
    path = cfg.output / f"teacher_{cfg.teacher_steps}x{cfg.teacher_samples}_{key}.npy"
    if not path.is_file():
        np.save(path, teacher_targets(teacher, schedule, clips, settings, cfg.train.seed))
    return np.load(path)


class DistillTask:
    """Whole training clips of this rank's shard with the teacher's output for each."""

    def __init__(self, cfg: DistillTrainConfig, ctx: Context):
        cfg.output.mkdir(parents=True, exist_ok=True)
        data_cfg = load_train_config(cfg.data, RendererTrainConfig)
        data_cfg.output.mkdir(parents=True, exist_ok=True)
        self.sets = clip_sets(data_cfg)
        teacher, schedule = load_renderer(cfg.teacher)
        self.teacher, self.schedule = teacher, dict(schedule)
        train = self.sets["train"]
        targets = _cached_targets(teacher, self.schedule, train, cfg)
        index = np.array(shard(range(len(train.gt)), ctx))
        self.clips, self.targets = train.subset(index), targets[index]
        self.model = student_from(teacher)
        self.noise_scheduler = load_scheduler(cfg.teacher)
        self.cfg, self.ctx = cfg, ctx

    def loss(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, str]:
        c = self.ctx.rng.integers(0, len(self.clips.gt), self.cfg.batch_clips)
        parts = self.clips.subset(c).condition_inputs()
        cond = torch.stack([condition(*p) for p in parts]).to(self.ctx.device)
        target = torch.from_numpy(self.targets[c].astype(np.float32)).to(self.ctx.device)
        x0 = one_pass_x0(model, self.noise_scheduler, cond, target.shape)
        return (x0 - target).pow(2).mean(), fingerprint(c)

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        return {}

    def finish(self, model: torch.nn.Module, export: Path, progress: dict) -> None:
        """Validation and held-out scores: the warp, the teacher (its settings, one sample of
        them, one step of one sample) and the student."""
        cfg, metrics = self.cfg, {}
        for name in ("validation", "heldout"):
            if name not in self.sets:
                continue
            clips = self.sets[name]
            frames = clips.gt.shape[1]
            metrics[name] = {"warp": clip_scores(clips.warped, clips.gt, clips.mouth)}
            runs = {(cfg.teacher_steps, cfg.teacher_samples), (cfg.teacher_steps, 1), (1, 1)}
            for steps, samples in sorted(runs, reverse=True):
                settings = whole_clip(frames, steps, 1.0, samples)
                metrics[name][f"teacher_{steps}x{samples}"] = score(
                    self.teacher, self.schedule, clips, settings
                )
            metrics[name]["student"] = score(
                model, self.schedule, clips, whole_clip(frames, 1, 1.0, 1)
            )
        metrics["train"] = {**progress, "train_clips": len(self.sets["train"].gt)}
        (export / "metrics.json").write_text(json.dumps(metrics, indent=1))
        log.info("distilled renderer metrics: %s", json.dumps(metrics))


def train(config_path: Path, resume: bool, device: str = "auto") -> int:
    cfg = load_train_config(config_path, DistillTrainConfig)
    return loop.run(cfg, lambda ctx: DistillTask(cfg, ctx), resume, device)
