"""Run an SRNet on a window of frames: one pass, or a few DDIM steps for the diffusion variant."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler

from avatarvid.models.sr_net import SRNet, bicubic

INFERENCE_AUG = 0.02  # noise-conditioning level the diffusion variant samples with
# Sampling starts from the bicubic image (a zero residual) noised to this fraction of the
# schedule, not from pure noise: the few-step sampler from pure noise invents texture and
# scores below bicubic (checkpoints/README.md, "sr"); from t ~ 50 it refines instead.
START_STRENGTH = 0.05


def make_scheduler(model: SRNet) -> DDIMScheduler:
    """The noise schedule the diffusion variant is trained and sampled with (x0 prediction)."""
    return DDIMScheduler(
        num_train_timesteps=model.config.num_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="sample",
        clip_sample=False,
    )


@torch.inference_mode()
def super_resolve(
    model: SRNet,
    lr: torch.Tensor,
    num_frames: int,
    guide: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    steps: int = 4,
    seed: int = 0,
) -> torch.Tensor:
    """(N, 3, h, w) in [0, 1] -> (N, 3, s*h, s*w) in [0, 1].

    The diffusion variant starts every frame of the window from the same noise image (seeded):
    independent noise per frame would be new detail per frame, i.e. flicker. Like img2img, it
    runs the last `steps` of a schedule spaced so that they span START_STRENGTH of it.
    """
    if not model.config.guided:
        guide = mask = None
    base = bicubic(lr, model.config.scale)
    if not model.config.diffusion:
        return (base + model(lr, num_frames, guide, mask)).clamp(0, 1)
    scheduler = make_scheduler(model)
    scheduler.set_timesteps(max(steps, round(steps / START_STRENGTH)))
    timesteps = scheduler.timesteps[-steps:]
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((1, *base.shape[1:]), generator=generator).to(base)
    x = scheduler.add_noise(torch.zeros_like(base), noise.expand_as(base), timesteps[:1])
    aug = torch.full((lr.shape[0],), INFERENCE_AUG, dtype=lr.dtype)
    lr_aug = lr + INFERENCE_AUG * torch.randn(lr.shape, generator=generator).to(lr)
    for t in timesteps:
        x0 = model(lr_aug, num_frames, guide, mask, noisy=x, timestep=t[None], aug_level=aug)
        x = scheduler.step(x0, t, x).prev_sample
    return (base + x / model.config.residual_scale).clamp(0, 1)
