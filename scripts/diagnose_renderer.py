"""Why the diffusion renderer does or does not beat the warp: bias or noise, and which strength.

    .venv/bin/python scripts/diagnose_renderer.py [--clips out/renderer_work/validation_64_8.npz]

On a cached clip set (built by `avatarvid train renderer`): PSNR of the network's x0 estimate
from the noised warp at high noise levels, from one noise draw and averaged over several (if
the average beats one draw, the estimate leaks the input noise; if even the average does not
beat the warp, the learned mean correction is wrong or near zero), then PSNR of full sampling
against strength. Choose settings on the validation identity, never on the held-out one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from avatarvid.render.diffusion import condition, load_renderer, to_tensor
from avatarvid.render.sampler import SamplerSettings, make_scheduler
from avatarvid.train.renderer_data import ClipSet
from avatarvid.train.renderer_eval import _scores, render_clips

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/renderer")
    ap.add_argument("--clips", type=Path, default=ROOT / "out/renderer_work/validation_64_8.npz")
    ap.add_argument("--draws", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, sched_cfg = load_renderer(args.checkpoint)
    clips = ClipSet.load(args.clips)
    scale = float(model.config.residual_scale)
    warped = to_tensor(clips.warped)
    cond = torch.stack([condition(*p) for p in clips.condition_inputs()])

    def psnr(correction: torch.Tensor) -> str:
        x = ((warped + correction / scale).clamp(-1, 1).movedim(-3, -1).numpy() + 1) * 127.5
        s = _scores(x.round().clip(0, 255).astype(np.uint8), clips.gt, clips.mouth)
        return f"{s['psnr']:.2f} (mouth {s['mouth_psnr']:.2f})"

    print("warp", psnr(torch.zeros_like(warped)))
    alphas = make_scheduler("ddim", sched_cfg).alphas_cumprod
    gen = torch.Generator().manual_seed(0)
    for t in (999, 749, 499):
        a = alphas[t]
        draws = []
        for _ in range(args.draws):
            x_t = (1 - a).sqrt() * torch.randn(warped.shape, generator=gen)
            with torch.no_grad():
                v = torch.cat(
                    [
                        model(x_t[i : i + 1], torch.tensor([t]), cond[i : i + 1])
                        for i in range(len(x_t))
                    ]
                )
            draws.append(a.sqrt() * x_t - (1 - a).sqrt() * v)
        mean = torch.stack(draws).mean(0)
        print(f"x0 estimate at t={t}: one draw {psnr(draws[0])}, mean of {args.draws} {psnr(mean)}")
    frames = clips.gt.shape[1]
    for strength in (0.25, 0.5, 0.75, 1.0):
        s = SamplerSettings(
            steps=4, strength=strength, window=frames, chunk=frames, overlap=0, known=0
        )
        out = _scores(render_clips(model, sched_cfg, clips, s), clips.gt, clips.mouth)
        print(
            f"DDIM 4 steps, strength {strength}: {out['psnr']:.2f} (mouth {out['mouth_psnr']:.2f})"
        )


if __name__ == "__main__":
    main()
