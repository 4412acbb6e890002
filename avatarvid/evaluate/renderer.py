"""Held-out quality of the diffusion renderer against the warp it refines.

The warp baseline is the renderer's own input (the reference warped to the target geometry),
so "beats the warp" means the network added information, not that it had more of it.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from avatarvid.data.renderer_clips import ClipSet
from avatarvid.models.renderer_unet import RendererUNet
from avatarvid.sampling.renderer import RendererSampling, WindowSampler
from avatarvid.stages.refiner import condition, to_tensor


def clip_scores(pred: np.ndarray, gt: np.ndarray, mouth: np.ndarray) -> dict[str, float]:
    """Mean PSNR / SSIM over frames, whole box and mouth box; uint8 (N, F, S, S, 3) inputs."""
    rows: dict[str, list[float]] = {"psnr": [], "ssim": [], "mouth_psnr": [], "mouth_ssim": []}
    for clip_p, clip_g, (y0, y1, x0, x1) in zip(pred, gt, mouth, strict=True):
        for p, g in zip(clip_p, clip_g, strict=True):
            for prefix, a, b in (("", p, g), ("mouth_", p[y0:y1, x0:x1], g[y0:y1, x0:x1])):
                rows[prefix + "psnr"].append(peak_signal_noise_ratio(b, a, data_range=255))
                win = min(7, *b.shape[:2])
                rows[prefix + "ssim"].append(
                    structural_similarity(
                        b, a, channel_axis=-1, data_range=255, win_size=win - 1 + win % 2
                    )
                )
    return {k: round(float(np.mean(v)), 4) for k, v in rows.items()}


def render_clips(
    model: RendererUNet, scheduler_config: dict, clips: ClipSet, settings: RendererSampling
) -> np.ndarray:
    """Each clip denoised as one chunk from its warped frames; uint8 like `clips.gt`."""
    sampler = WindowSampler(model, scheduler_config, settings)
    out = []
    for i, parts in enumerate(clips.condition_inputs()):
        gen = torch.Generator().manual_seed(settings.seed + i)
        x = sampler.sample_chunk(to_tensor(parts[0]), condition(*parts), None, gen)
        out.append(((x.movedim(1, -1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8))
    return np.stack(out)


def whole_clip(frames: int, steps: int, strength: float, samples: int) -> RendererSampling:
    """Settings that denoise a `frames`-frame clip as one window and one chunk."""
    return RendererSampling(
        steps=steps,
        strength=strength,
        samples=samples,
        window=frames,
        chunk=frames,
        overlap=0,
        known=0,
    )


def score(
    model: RendererUNet, scheduler_config: dict, clips: ClipSet, settings: RendererSampling
) -> dict[str, float]:
    """PSNR / SSIM (whole box and mouth) of `model` sampled with `settings` on `clips`."""
    return clip_scores(
        render_clips(model, scheduler_config, clips, settings), clips.gt, clips.mouth
    )


def evaluate(
    trained: RendererUNet, untrained: RendererUNet, scheduler_config: dict, clips: ClipSet, cfg
) -> dict:
    """Scores of the warp, the untrained and the trained network on held-out clips."""
    settings = whole_clip(clips.gt.shape[1], cfg.eval_steps, cfg.eval_strength, cfg.eval_samples)
    result = {
        "settings": {
            "steps": settings.steps,
            "strength": settings.strength,
            "samples": settings.samples,
        }
    }
    result["warp"] = clip_scores(clips.warped, clips.gt, clips.mouth)
    for name, model in (("untrained", untrained), ("trained", trained)):
        result[name] = score(model, scheduler_config, clips, settings)
    return result
