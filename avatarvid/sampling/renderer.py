"""Sliding-window sampling of the renderer: img2img strength, guidance, temporal outpainting.

A video is cut into chunks. Each chunk starts with `known` frames carried over from the
previous chunk, re-imposed (noised to the current timestep) before every denoising step so the
new frames continue them (temporal outpainting). Inside a chunk, windows of `window` frames
that overlap by `overlap` frames are denoised separately and their predictions averaged
(MagicAnimate), so a chunk can be longer than what the network saw in training. Chunks are
returned as they finish: memory is flat in video length.

The noise schedule is the checkpoint's `scheduler_config.json`, including its `clip_sample`
(True for the shipped renderer: diffusers' default, kept so outputs stay identical; the
renderer issue re-measures it). Sampling swaps in the DDIM or DPM-Solver++ solver with
"trailing" timesteps: with few steps the first one is t = T (strength 1 really starts from
noise) and none is wasted at t = 0.

A distilled checkpoint (`distilled: true` in its config.json) is a student that learnt its
teacher's averaged multi-sample output at t = T from a zero sample: it runs as one DDIM step
from zeros (known frames are zeros too), one network pass per frame and window, whatever the
steps, samples, guidance and solver say; strength 0 still returns the warp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from avatarvid.models.renderer_unet import RendererUNet
from avatarvid.sampling.denoise import Known, denoise, img2img_timesteps
from avatarvid.sampling.schedulers import solver_from_config
from avatarvid.sampling.windows import window_average

RENDERER_SOLVERS = ("ddim", "dpm")


@dataclass(frozen=True)
class RendererSampling:
    """How to sample the renderer; defaults equal `config.settings.RefinerSettings`."""

    steps: int = 2
    strength: float = 1.0  # 0 returns the warped frames, 1 generates from pure noise
    guidance: float = 1.0  # classifier-free guidance scale on the conditions (1 = off)
    window: int = 8
    overlap: int = 2
    known: int = 2
    chunk: int = 14  # frames per chunk, including the known ones
    scheduler: str = "ddim"
    seed: int = 0
    # Independent samples averaged: their mean tends to the conditional mean, which is what
    # minimises the error to the truth; one sample also carries the unpredictable part.
    samples: int = 4

    def __post_init__(self) -> None:
        if self.steps < 1 or self.samples < 1:
            raise ValueError("need steps >= 1 and samples >= 1")
        if not 0.0 <= self.strength <= 1.0 or self.guidance < 0:
            raise ValueError("need 0 <= strength <= 1 and guidance >= 0")
        if not 0 <= self.overlap < self.window <= self.chunk or not 0 <= self.known < self.chunk:
            raise ValueError("need 0 <= overlap < window <= chunk and 0 <= known < chunk")
        if self.scheduler not in RENDERER_SOLVERS:
            raise ValueError(f"scheduler must be one of {', '.join(RENDERER_SOLVERS)}")


def renderer_solver(name: str, schedule: Mapping) -> SchedulerMixin:
    """The `name` solver ("ddim" or "dpm") on the training schedule `schedule` (a scheduler
    config), with trailing timesteps."""
    extra = {"algorithm_type": "dpmsolver++"} if name == "dpm" else {}
    return solver_from_config(schedule, name, timestep_spacing="trailing", **extra)


def guided(
    model: RendererUNet, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, scale: float
) -> torch.Tensor:
    """Classifier-free guidance on the conditions (zeroed conditions = unconditional)."""
    if scale == 1.0:
        return model(x, t, cond)
    n = len(x)
    both = model(torch.cat([x, x]), t, torch.cat([cond, torch.zeros_like(cond)]))
    return both[n:] + scale * (both[:n] - both[n:])


def one_pass(s: RendererSampling) -> RendererSampling:
    """The settings a distilled student runs with: one DDIM step of one sample, unguided."""
    strength = 1.0 if s.strength > 0 else 0.0
    return replace(s, steps=1, samples=1, guidance=1.0, scheduler="ddim", strength=strength)


class WindowSampler:
    """Denoises (frames, 3, H, W) clips in [-1, 1] given per-frame conditions (frames, 15, H, W),
    on the model's device; `schedule` is the training scheduler's config."""

    def __init__(self, model: RendererUNet, schedule: Mapping, s: RendererSampling):
        self.model = model
        self.distilled = bool(model.config.get("distilled", False))
        self.s = one_pass(s) if self.distilled else s
        self.schedule = dict(schedule)
        self.reset()

    @torch.no_grad()
    def sample_chunk(
        self,
        warped: torch.Tensor,
        cond: torch.Tensor,
        known: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """Denoise one chunk of (F, 3, H, W) warped frames in [-1, 1]; the first len(known)
        output frames are the given known frames, exactly."""
        device = self.model.device
        warped, cond = warped.to(device), cond.to(device)
        known = None if known is None else known.to(device)
        k = 0 if known is None else len(known)
        if self.s.strength == 0.0:
            out = warped.clone()
        else:
            scale = float(self.model.config.residual_scale)
            scheduler = renderer_solver(self.s.scheduler, self.schedule)
            timesteps = img2img_timesteps(scheduler, self.s.steps, self.s.strength)
            shape = (self.s.samples, *warped.shape)
            if self.distilled:
                noise = torch.zeros(shape, device=device, dtype=warped.dtype)
            else:
                noise = randn_tensor(shape, generator=generator, device=device, dtype=warped.dtype)
            # The sample is the residual to the warp; "the noised warp" is noised zero residual.
            if self.s.strength >= 1.0:
                x = noise * scheduler.init_noise_sigma
            else:
                x = scheduler.add_noise(torch.zeros_like(noise), noise, timesteps[:1])
            impose = None
            if k:
                residual = (known - warped[:k]) * scale
                impose = Known(residual.expand_as(noise[:, :k]), noise[:, :k])

            def net(xs: torch.Tensor, t: torch.Tensor, frames: slice) -> torch.Tensor:
                cs = cond[frames].expand(len(xs), -1, -1, -1, -1)
                return guided(self.model, xs, t, cs, self.s.guidance)

            model_fn = window_average(net, self.s.window, self.s.overlap)
            x = denoise(model_fn, x, scheduler, timesteps, impose)
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
        warped, cond = warped.to(self.model.device), cond.to(self.model.device)
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
