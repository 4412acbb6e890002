"""`avatarvid train renderer --config configs/train/renderer.yaml`: the diffusion renderer.

Stage 1 trains on single frames (the temporal layers are skipped when a clip has one frame),
stage 2 on clips (temporal layers on). v-prediction; the loss is uniform over timesteps unless
`min_snr_gamma` asks for min-SNR weighting, which starves the high-noise steps: the few-step
sampler's first step is the network's conditional mean at t = T, learnt only there. Conditions
are dropped together with probability `cond_dropout` so classifier-free guidance has an
unconditional model. `objective: one_pass` instead trains the one-pass student's form on the
truth (`one_pass_x0`): only that conditional mean, run once per frame. The training clips are
photos animated and relit (synthetic truth), tracked real video, or both. The shared loop
(train/loop.py) does the rest: AdamW with warm-up and cosine decay, EMA (what is exported),
resume; the held-out scores go to `metrics.json`.
"""

from __future__ import annotations

import glob
import json
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from diffusers import DDPMScheduler, SchedulerMixin
from pydantic import BaseModel, ConfigDict, Field, model_validator

from avatarvid.assets import examples_dir
from avatarvid.data.renderer_clips import (
    CameraAugment,
    ClipSet,
    face_sources,
    make_clips,
    make_real_clips,
)
from avatarvid.errors import InputError
from avatarvid.evaluate.renderer import evaluate
from avatarvid.models.renderer_unet import RendererUNet, box_unit
from avatarvid.stages.refiner import condition, to_tensor
from avatarvid.train import loop
from avatarvid.train.config import (
    ExistingDir,
    ExistingFile,
    LoopSettings,
    TrainConfig,
    load_train_config,
)
from avatarvid.train.loop import Context, fingerprint, shard

log = logging.getLogger(__name__)


class RendererLoopSettings(LoopSettings):
    steps: int = Field(800, ge=1)  # stage 1 (single frames) then stage 2 (clips)
    lr: float = Field(5e-4, gt=0)
    warmup: int = Field(100, ge=0)  # then cosine decay to 0 over both stages
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: float = Field(0.995, ge=0, lt=1)
    log_every: int = Field(20, ge=1)
    checkpoint_every: int = Field(100, ge=1)


class RealSource(BaseModel):
    """Frames [start, end) (fractions of its length) of a tracked real clip."""

    model_config = ConfigDict(extra="forbid")
    tracks: ExistingFile  # `avatarvid data clips` output: the .npz; its frames are the .mp4
    start: float = Field(0.0, ge=0, le=1)
    end: float = Field(1.0, ge=0, le=1)


class RendererTrainConfig(TrainConfig):
    """`output` also caches the clips built from the photos or real clips (rebuilt when
    missing). Photos (synthetic ground truth), real_* sources (real frames) or, for training,
    both: the photos' clips are then added to the real ones."""

    photos: list[str] = []  # globs (relative to the current directory or absolute)
    heldout_photos: list[str] = []
    # An identity neither trained on nor the held-out one: settings are tuned on it, not on
    # the held-out clips (empty = none).
    validation_photos: list[str] = []
    # Real video instead of photos: `clips_per_source` / `heldout_clips_per_source` clips from
    # each source.
    real_train: list[RealSource] = []
    real_heldout: list[RealSource] = []
    real_validation: list[RealSource] = []
    # With both photos and real_train: clips per training photo face added to the real clips.
    mixed_photo_clips: int = Field(16, ge=1)
    # Build the training clips without colour changes and give every batch its own camera
    # (`CameraAugment`: mirror, gain, gamma, saturation, resolution) instead.
    online_augment: bool = False
    # Start from these weights (a renderer checkpoint with the same block layout) instead of
    # random ones; "untrained" in metrics.json is then this checkpoint.
    init: ExistingDir | None = None
    # Written into the exported scheduler config: whether the sampler clips its x0 estimate
    # (the residual times residual_scale) to [-1, 1].
    clip_sample: bool = True
    # "diffusion": v-prediction at random timesteps (the sampler's few steps from noise).
    # "one_pass": the one-pass student's form (`distilled: true`, as train/renderer_distill.py
    # exports) regressed on the truth itself: its x0 estimate from a zero sample at t = T, i.e.
    # what a 1-step sample estimates (the conditional mean of the correction), with every
    # step of training spent there and one network pass per frame at inference.
    objective: Literal["diffusion", "one_pass"] = "diffusion"
    speech: ExistingFile = Field(default_factory=lambda: examples_dir() / "speech.wav")
    size: int = Field(64, ge=16)
    # > 1: the U-Net runs on patch_size x patch_size pixel blocks (models/renderer_unet.py);
    # a patch-1 `init` then starts it as itself on the area-reduced box, upsampled by nearest.
    patch_size: int = Field(1, ge=1)
    frames: int = Field(8, ge=1)
    clips_per_source: int = Field(24, ge=1)
    heldout_clips_per_source: int = Field(6, ge=1)
    block_channels: list[int] = [32, 64, 96]
    attention_levels: list[bool] = [False, False, True]
    layers_per_block: int = Field(1, ge=1)
    heads: int = Field(4, ge=1)
    residual_scale: float = Field(4.0, gt=0)
    stage1_steps: int = Field(400, ge=0)  # the first steps of train.steps, on single frames
    batch_frames: int = Field(16, ge=1)  # stage 1: single frames per step
    batch_clips: int = Field(2, ge=1)  # stage 2: clips per step
    cond_dropout: float = Field(0.1, ge=0, le=1)
    min_snr_gamma: float = Field(0.0, ge=0)  # min-SNR loss weighting (Hang et al. 2023); 0 = off
    eval_steps: int = Field(4, ge=1)
    eval_strength: float = Field(0.5, ge=0, le=1)
    eval_samples: int = Field(1, ge=1)
    train: RendererLoopSettings = RendererLoopSettings()

    @model_validator(mode="after")
    def _some_source(self) -> RendererTrainConfig:
        if not self.photos and not self.real_train:
            raise ValueError("give photos, real_train or both")
        if self.size % box_unit(self.patch_size, len(self.block_channels)):
            raise ValueError("size must divide by patch_size * 2 ** (len(block_channels) - 1)")
        return self


def _paths(globs: list[str]) -> list[Path]:
    found = sorted({Path(p) for g in globs for p in glob.glob(g)})
    if not found:
        raise InputError(f"no photos match {globs}")
    return found


def noise_scheduler(clip_sample: bool = True) -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        clip_sample=clip_sample,
    )


def _real(
    sources: list[RealSource], n: int, cfg: RendererTrainConfig, seed: int, augment: bool
) -> ClipSet:
    """`n` clips from every real source, concatenated."""
    parts = [
        make_real_clips(s.tracks, (s.start, s.end), n, cfg.frames, cfg.size, seed + i, augment)
        for i, s in enumerate(sources)
    ]
    return concatenated(parts)


def concatenated(parts: list[ClipSet]) -> ClipSet:
    return ClipSet(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in vars(parts[0])})


def clip_sets(cfg: RendererTrainConfig) -> dict[str, ClipSet]:
    """Training, held-out (and validation) clips, built once and cached in the run directory."""
    cfg.output.mkdir(parents=True, exist_ok=True)
    sets = {}
    for name, globs, real, n, seed in (
        ("train", cfg.photos, cfg.real_train, cfg.clips_per_source, cfg.train.seed),
        ("heldout", cfg.heldout_photos, cfg.real_heldout, cfg.heldout_clips_per_source,
         cfg.train.seed + 1),
        ("validation", cfg.validation_photos, cfg.real_validation, cfg.heldout_clips_per_source,
         cfg.train.seed + 2),
    ):  # fmt: skip
        if not globs and not real:
            continue
        path = cfg.output / f"{name}_{cfg.size}_{cfg.frames}.npz"
        if not path.is_file():
            augment = name == "train" and not cfg.online_augment
            parts = [_real(real, n, cfg, seed, augment)] if real else []
            if globs:
                per_face = cfg.mixed_photo_clips if real else n
                sources = face_sources(_paths(globs))
                parts.append(
                    make_clips(sources, cfg.speech, per_face, cfg.frames, cfg.size, seed, augment)
                )
            clips = concatenated(parts)
            clips.save(path)
            log.info("%s: %d clips", name, len(clips.gt))
        sets[name] = ClipSet.load(path)
    return sets


def on_pixel_blocks(state: dict[str, torch.Tensor], p: int) -> dict[str, torch.Tensor]:
    """A patch-1 renderer's weights for the same network on p x p pixel blocks, computing
    exactly the patch-1 network on the box area-reduced by p, its output repeated over each
    block: the input convolution averages the p * p sub-pixels of every channel
    (pixel_unshuffle puts channel c's sub-pixels at c * p * p ...), the output one copies."""
    state = dict(state)
    blocks = p * p
    state["conv_in.weight"] = state["conv_in.weight"].repeat_interleave(blocks, dim=1) / blocks
    for name in ("conv_out.weight", "conv_out.bias"):
        state[name] = state[name].repeat_interleave(blocks, dim=0)
    return state


def build_model(cfg: RendererTrainConfig) -> RendererUNet:
    """A new network, with `cfg.init`'s weights when given (convolutions do not depend on the
    box size, so a 64 px checkpoint can start a 128 px one; a patch-1 one a patched one)."""
    model = RendererUNet(
        block_channels=tuple(cfg.block_channels),
        layers_per_block=cfg.layers_per_block,
        attention_levels=tuple(cfg.attention_levels),
        heads=cfg.heads,
        sample_size=cfg.size,
        residual_scale=cfg.residual_scale,
        distilled=cfg.objective == "one_pass",
        patch_size=cfg.patch_size,
    )
    if cfg.init is not None:
        init = RendererUNet.from_pretrained(cfg.init)
        state = init.state_dict()
        if init.config.patch_size == 1 < cfg.patch_size:
            state = on_pixel_blocks(state, cfg.patch_size)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise InputError(f"init {cfg.init} does not fit the configured network") from err
    return model


def training_batch(
    clips: ClipSet,
    rng: np.random.Generator,
    single: int | None,
    clips_n: int,
    scale: float,
    augment: CameraAugment | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0 = scaled residual to the warp, cond): `single` random frames as 1-frame clips, or
    `clips_n` whole clips, each changed by `augment` when given."""
    if single:
        c = rng.integers(0, len(clips.gt), single)
        f = rng.integers(0, clips.gt.shape[1], single)
        index = (c, f)
    else:
        c = rng.integers(0, len(clips.gt), clips_n)
        index = (c,)
    names = ("gt", "warped", "controls", "normals", "reference_normals")
    arrays = {k: getattr(clips, k)[index][:, None] if single else getattr(clips, k)[index]
              for k in names}  # fmt: skip
    arrays["reference"] = clips.reference[c]
    if augment is not None:
        per = [augment(rng, {k: v[i] for k, v in arrays.items()}) for i in range(len(c))]
        arrays = {k: np.stack([p[k] for p in per]) for k in arrays}
    per_frame = [arrays[k] for k in names[1:]]
    cond = torch.stack([condition(*p) for p in zip(*per_frame, arrays["reference"], strict=True)])
    return (to_tensor(arrays["gt"]) - to_tensor(arrays["warped"])) * scale, cond


def loss_weights(scheduler: DDPMScheduler, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-sample weights of the v-prediction MSE: min(SNR, gamma) / (SNR + 1), or ones."""
    if not gamma:
        return torch.ones(len(t))
    snr = scheduler.alphas_cumprod[t.cpu()] / (1 - scheduler.alphas_cumprod[t.cpu()])
    return snr.clamp(max=gamma) / (snr + 1)


def one_pass_x0(
    model: torch.nn.Module, scheduler: SchedulerMixin, cond: torch.Tensor, shape: torch.Size
) -> torch.Tensor:
    """A one-pass student's output: its v-prediction on a zero sample at t = T read as DDIM's
    one trailing step, x0 = sqrt(a_T) x_T - sqrt(1 - a_T) v with x_T = 0."""
    last = scheduler.config.num_train_timesteps - 1
    t = torch.tensor([last], device=cond.device)
    v = model(torch.zeros(shape, device=cond.device), t, cond)
    return -(float(1 - scheduler.alphas_cumprod[last]) ** 0.5) * v


class RendererTask:
    """Random frames (stage 1) or clips (stage 2) of this rank's share of the training clips."""

    def __init__(self, cfg: RendererTrainConfig, ctx: Context):
        cfg.output.mkdir(parents=True, exist_ok=True)
        self.sets = clip_sets(cfg)
        train = self.sets["train"]
        self.clips = train.subset(np.array(shard(range(len(train.gt)), ctx)))
        self.model = build_model(cfg)
        self.noise_scheduler = noise_scheduler(cfg.clip_sample)
        self.augment = CameraAugment() if cfg.online_augment else None
        self.cfg, self.ctx = cfg, ctx

    def loss(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, str]:
        cfg, ctx, sched = self.cfg, self.ctx, self.noise_scheduler
        single = cfg.batch_frames if step < cfg.stage1_steps else None
        x0, cond = training_batch(
            self.clips, ctx.rng, single, cfg.batch_clips, cfg.residual_scale, self.augment
        )
        key = fingerprint(x0)
        x0, cond = x0.to(ctx.device), cond.to(ctx.device)
        if cfg.objective == "one_pass":
            return (one_pass_x0(model, sched, cond, x0.shape) - x0).pow(2).mean(), key
        keep = torch.rand(len(x0), generator=ctx.generator).to(ctx.device) >= cfg.cond_dropout
        cond = cond * keep[:, None, None, None, None]
        noise = torch.randn(x0.shape, generator=ctx.generator).to(ctx.device)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(x0),), generator=ctx.generator)
        t = t.to(ctx.device)
        noisy = sched.add_noise(x0, noise, t)
        err = (model(noisy, t, cond) - sched.get_velocity(x0, noise, t)).pow(2).mean((1, 2, 3, 4))
        return (err * loss_weights(sched, t, cfg.min_snr_gamma).to(err.device)).mean(), key

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        return {}

    def finish(self, model: torch.nn.Module, export: Path, progress: dict) -> None:
        """Held-out (and validation) scores of the warp, the untrained and the trained network."""
        cfg, config = self.cfg, dict(self.noise_scheduler.config)
        metrics: dict = {}
        for name in ("validation", "heldout"):
            if name in self.sets:
                torch.manual_seed(cfg.train.seed)
                untrained = build_model(cfg).eval()
                metrics[name] = evaluate(model, untrained, config, self.sets[name], cfg)
        metrics["train"] = {
            **progress,
            "train_clips": len(self.sets["train"].gt),
            **{f"{k}_clips": len(v.gt) for k, v in self.sets.items() if k != "train"},
        }
        (export / "metrics.json").write_text(json.dumps(metrics, indent=1))
        log.info("renderer metrics: %s", json.dumps(metrics))


def train(config_path: Path, resume: bool, device: str = "auto") -> int:
    cfg = load_train_config(config_path, RendererTrainConfig)
    return loop.run(cfg, lambda ctx: RendererTask(cfg, ctx), resume, device)
