"""The render step after the warp: nothing (`renderer: warp`) or diffusion refinement.

Both have the same push/flush streaming interface, so the vlog loop has no branch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from avatarvid.assets import checkpoint_path
from avatarvid.config.settings import RenderSettings
from avatarvid.errors import InputError

if TYPE_CHECKING:
    import torch


class PassThrough:
    """`renderer: warp`: the warped frames are the output."""

    def push(self, frame: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
        return [frame]

    def flush(self) -> list[np.ndarray]:
        return []


def make_refiner(
    cfg: RenderSettings,
    image: np.ndarray,
    landmarks: np.ndarray,
    device: torch.device | str = "cpu",
):
    """A PassThrough or a DiffusionRefiner (its model on `device`) for the (possibly shrunk)
    framed photo."""
    if cfg.renderer == "warp":
        return PassThrough()
    from avatarvid.sampling.renderer import RendererSampling
    from avatarvid.stages.refiner import DiffusionRefiner, load_renderer

    d = cfg.diffusion
    try:
        settings = RendererSampling(
            steps=d.steps,
            strength=d.strength,
            guidance=d.guidance,
            samples=d.samples,
            window=d.window,
            overlap=d.overlap,
            known=d.known,
            chunk=d.chunk,
            scheduler=d.scheduler,
            seed=cfg.seed,
        )
    except ValueError as e:
        raise InputError(f"diffusion renderer settings: {e}") from None
    model, schedule = load_renderer(checkpoint_path(d.checkpoint), device=device)
    return DiffusionRefiner(model, schedule, settings, image, landmarks, device=device)
