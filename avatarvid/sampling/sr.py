"""Run an SRNet on a window of frames: one pass, or a few DDIM steps for the diffusion variant."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from diffusers import DDIMScheduler
from diffusers.utils.torch_utils import randn_tensor

from avatarvid.device import autocast
from avatarvid.models.sr_net import SRNet, bicubic
from avatarvid.sampling.denoise import denoise, img2img_timesteps
from avatarvid.sampling.schedulers import solver_from_config

INFERENCE_AUG = 0.02  # noise-conditioning level the diffusion variant samples with
# Sampling starts from the bicubic image (a zero residual) noised to this fraction of the
# schedule, not from pure noise: the few-step sampler from pure noise invents texture and
# scores below bicubic (checkpoints/README.md, "sr"); from t ~ 50 it refines instead.
START_STRENGTH = 0.05


def make_scheduler(model: SRNet) -> DDIMScheduler:
    """The noise schedule the diffusion variant is trained on (x0 prediction, no clipping: the
    sample is a residual in units of `residual_scale`); saved as its scheduler_config.json."""
    return DDIMScheduler(
        num_train_timesteps=model.config.num_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="sample",
        clip_sample=False,
    )


def sr_noise(
    seed: int, lr_shape: torch.Size, scale: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The diffusion variant's noise for a window of low-res frames `lr_shape` (N, 3, h, w): one
    image shared by every frame (1, 3, s*h, s*w) and the conditioning augmentation (N, 3, h, w)."""
    n, c, h, w = lr_shape
    generator = torch.Generator().manual_seed(seed)
    image = randn_tensor(
        (1, c, h * scale, w * scale), generator=generator, device=device, dtype=dtype
    )
    return image, randn_tensor(tuple(lr_shape), generator=generator, device=device, dtype=dtype)


@torch.inference_mode()
def super_resolve(
    model: SRNet,
    lr: torch.Tensor,
    num_frames: int,
    guide: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    steps: int = 4,
    seed: int = 0,
    schedule: Mapping | None = None,
    noise: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """(N, 3, h, w) in [0, 1] -> (N, 3, s*h, s*w) in [0, 1], on the model's device.

    The diffusion variant needs `schedule`, the checkpoint's scheduler config
    (`load_scheduler(dir).config`). It starts every frame of the window from the same noise
    image (seeded): independent noise per frame would be new detail per frame, i.e. flicker.
    Like img2img, it runs the last `steps` of a schedule spaced so that they span
    START_STRENGTH of it. `noise` (from `sr_noise`, cropped) lets a tile of a larger frame
    draw exactly the noise the whole frame would.
    """
    device = model.device
    lr = lr.to(device)
    if not model.config.guided:
        guide = mask = None
    guide = None if guide is None else guide.to(device)
    mask = None if mask is None else mask.to(device)
    base = bicubic(lr, model.config.scale)
    if not model.config.diffusion:
        with autocast(device):
            residual = model(lr, num_frames, guide, mask)
        return base.add_(residual.to(base.dtype)).clamp_(0, 1)
    if schedule is None:
        raise ValueError("the diffusion SR variant needs its checkpoint's noise schedule")
    scheduler = solver_from_config(schedule)
    timesteps = img2img_timesteps(scheduler, round(steps / START_STRENGTH), START_STRENGTH)
    image_noise, lr_noise = noise or sr_noise(seed, lr.shape, model.config.scale, device, lr.dtype)
    x = scheduler.add_noise(torch.zeros_like(base), image_noise.expand_as(base), timesteps[:1])
    aug = torch.full((lr.shape[0],), INFERENCE_AUG, dtype=lr.dtype, device=device)
    lr_aug = lr + INFERENCE_AUG * lr_noise

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(lr_aug, num_frames, guide, mask, noisy=x, timestep=t[None], aug_level=aug)

    x = denoise(model_fn, x, scheduler, timesteps)
    return (base + x / model.config.residual_scale).clamp(0, 1)
