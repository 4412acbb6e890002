"""Sliding-window sampling of the renderer: img2img strength, guidance, temporal outpainting.

A video is cut into chunks. Each chunk starts with `known` frames carried over from the
previous chunk, re-imposed (noised to the current timestep) before every denoising step so the
new frames continue them (temporal outpainting). Inside a chunk, windows of `window` frames
that overlap by `overlap` frames are denoised separately and their predictions averaged
(MagicAnimate), so a chunk can be longer than what the network saw in training. Chunks are
returned as they finish: memory is flat in video length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from avatarvid.models.renderer_unet import RendererUNet

SCHEDULERS = {"ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler}


@dataclass(frozen=True)
class SamplerSettings:
    steps: int = 4
    strength: float = 0.5  # 0 returns the warped frames, 1 generates from pure noise
    guidance: float = 1.0  # classifier-free guidance scale on the conditions (1 = off)
    window: int = 8
    overlap: int = 2
    known: int = 2
    chunk: int = 14  # frames per chunk, including the known ones
    scheduler: str = "ddim"
    seed: int = 0
    # Independent samples averaged: their mean tends to the conditional mean, which is what
    # minimises the error to the truth; one sample also carries the unpredictable part.
    samples: int = 1

    def __post_init__(self) -> None:
        if self.steps < 1 or self.samples < 1:
            raise ValueError("need steps >= 1 and samples >= 1")
        if not 0.0 <= self.strength <= 1.0 or self.guidance < 0:
            raise ValueError("need 0 <= strength <= 1 and guidance >= 0")
        if not 0 <= self.overlap < self.window <= self.chunk or not 0 <= self.known < self.chunk:
            raise ValueError("need 0 <= overlap < window <= chunk and 0 <= known < chunk")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}")


def make_scheduler(name: str, train_config: dict) -> SchedulerMixin:
    """An inference scheduler sharing the training noise schedule (betas, prediction type).
    "trailing" timesteps: with few steps the first one is t = T (strength 1 really starts from
    noise) and none is wasted at t = 0."""
    cls = SCHEDULERS[name]
    keys = ("num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "prediction_type")
    kwargs = {k: train_config[k] for k in keys if k in train_config}
    kwargs["timestep_spacing"] = "trailing"
    if name == "dpm":
        kwargs["algorithm_type"] = "dpmsolver++"
    return cls(**kwargs)


def window_starts(length: int, window: int, overlap: int) -> list[int]:
    """Starts of windows covering [0, length), the last one flush with the end."""
    if length <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


class WindowSampler:
    """Denoises (frames, 3, H, W) clips in [-1, 1] given per-frame conditions (frames, 15, H, W)."""

    def __init__(self, model: RendererUNet, train_scheduler_config: dict, s: SamplerSettings):
        self.model = model
        self.s = s
        self.train_config = dict(train_scheduler_config)
        self.reset()

    def _timesteps(self, scheduler: SchedulerMixin) -> torch.Tensor:
        scheduler.set_timesteps(self.s.steps)
        run = min(max(1, round(self.s.steps * self.s.strength)), self.s.steps)
        start = (self.s.steps - run) * scheduler.order
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(start)
        return scheduler.timesteps[start:]

    @torch.no_grad()
    def _predict(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Window-averaged, guided prediction for (samples, frames, 3, H, W) chunks."""
        total = torch.zeros_like(x)
        count = torch.zeros(x.shape[1], 1, 1, 1, dtype=x.dtype, device=x.device)
        g, n = self.s.guidance, len(x)
        for a in window_starts(x.shape[1], self.s.window, self.s.overlap):
            xs, cs = (
                x[:, a : a + self.s.window],
                cond[a : a + self.s.window].expand(n, -1, -1, -1, -1),
            )
            if g == 1.0:
                pred = self.model(xs, t, cs)
            else:
                both = self.model(torch.cat([xs, xs]), t, torch.cat([cs, torch.zeros_like(cs)]))
                pred = both[n:] + g * (both[:n] - both[n:])
            total[:, a : a + xs.shape[1]] += pred
            count[a : a + xs.shape[1]] += 1
        return total / count

    def sample_chunk(
        self,
        warped: torch.Tensor,
        cond: torch.Tensor,
        known: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Denoise one chunk of (F, 3, H, W) warped frames in [-1, 1]; the first len(known)
        output frames are the given known frames, exactly."""
        k = 0 if known is None else len(known)
        if self.s.strength == 0.0:
            out = warped.clone()
        else:
            scale = float(self.model.config.residual_scale)
            scheduler = make_scheduler(self.s.scheduler, self.train_config)
            timesteps = self._timesteps(scheduler)
            shape = (self.s.samples, *warped.shape)
            noise = torch.randn(shape, generator=generator, dtype=warped.dtype)
            # The sample is the residual to the warp; "the noised warp" is noised zero residual.
            zero = torch.zeros(shape, dtype=warped.dtype)
            if self.s.strength >= 1.0:
                x = noise * scheduler.init_noise_sigma
            else:
                x = scheduler.add_noise(zero, noise, timesteps[:1])
            known_r = (known - warped[:k]) * scale if k else None
            for t in timesteps:
                if k:
                    x[:, :k] = scheduler.add_noise(
                        known_r.expand_as(x[:, :k]), noise[:, :k], t.reshape(1)
                    )
                pred = self._predict(scheduler.scale_model_input(x, t), t, cond)
                x = scheduler.step(pred, t, x).prev_sample
            out = (warped + x.mean(0) / scale).clamp(-1, 1)
        if k:
            out[:k] = known
        return out

    def reset(self) -> None:
        """Forget the previous chunk: the next one starts a new video."""
        self._prev: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._index = 0

    def next_chunk(self, warped: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Refines the next `len(warped)` new frames of the video, continuing the previous
        chunk: its last `known` outputs are prepended as known frames (and dropped again)."""
        prev = self._prev
        k = 0 if prev is None else min(self.s.known, len(prev[0]))
        if k:
            warped = torch.cat([prev[1][-k:], warped])
            cond = torch.cat([prev[2][-k:], cond])
        index = self._index
        gen = torch.Generator().manual_seed(self.s.seed * 100003 + index)
        out = self.sample_chunk(warped, cond, prev[0][-k:] if k else None, gen)
        self._prev, self._index = (out, warped, cond), index + 1
        return out[k:]
