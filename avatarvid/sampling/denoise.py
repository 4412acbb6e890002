"""The one denoise loop, over any diffusers scheduler (k-diffusion-sized).

Everything model-specific (guidance, window averaging, conditions) lives in the `model_fn`
callable the caller builds; the loop only steps the scheduler, re-imposes known frames and
runs the network in the device's precision (`avatarvid.device.autocast`: fp32 on CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from avatarvid.device import autocast

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> model output


@dataclass(frozen=True)
class Known:
    """Frames whose clean value is known (temporal outpainting): the first `len` frames along
    dim 1 of the sample, re-noised with their own `noise` to each step's level before the step,
    so the generated frames continue them."""

    values: torch.Tensor  # (batch, k, ...) clean
    noise: torch.Tensor  # same shape


def img2img_timesteps(scheduler: SchedulerMixin, steps: int, strength: float) -> torch.Tensor:
    """The timesteps img2img runs (diffusers' meaning): a `steps`-step schedule of which the
    last round(steps * strength) steps (at least 1) are run, starting from a sample noised to
    the first of them; strength 1 runs all of them, from noise."""
    scheduler.set_timesteps(steps)
    run = min(max(1, round(steps * strength)), steps)
    start = (steps - run) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    return scheduler.timesteps[start:]


def denoise(
    model_fn: ModelFn,
    x: torch.Tensor,
    scheduler: SchedulerMixin,
    timesteps: torch.Tensor,
    known: Known | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Steps `x` through `timesteps`; `scheduler` must be set to a schedule containing them."""
    if known is not None:
        x = x.clone()
        k = known.values.shape[1]
    for t in timesteps:
        if known is not None:
            x[:, :k] = scheduler.add_noise(known.values, known.noise, t.reshape(1))
        with autocast(x.device):  # the scheduler keeps its timesteps on the CPU
            out = model_fn(scheduler.scale_model_input(x, t), t.to(x.device))
        x = scheduler.step(out.to(x.dtype), t, x, generator=generator).prev_sample
    return x
