"""Why the diffusion renderer does or does not beat the warp: bias or noise, and which settings.

    avatarvid study diagnose_renderer [--clips out/renderer_work/validation_64_8.npz]
        [--sample STEPS:STRENGTH:SAMPLES[:GUIDANCE[:SCHEDULER]] ...] [--per-source N]

On a cached clip set (built by `avatarvid train renderer`): PSNR of the network's x0 estimate
from the noised warp at high noise levels, from one noise draw and averaged over several (if
the average beats one draw, the estimate leaks the input noise; if even the average does not
beat the warp, the learned mean correction is wrong or near zero); then the scores of the warp,
of "oracle relighting" (the warp times the exact shading ratio read from the two normal maps:
what relighting alone can gain) and of full sampling with each `--sample` setting, overall
and per source face with `--per-source` (clips per face). Choose settings on the validation
identity, never on the held-out one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from avatarvid.assets import checkpoint_path
from avatarvid.data.lighting import lambert
from avatarvid.data.renderer_clips import ClipSet
from avatarvid.evaluate.renderer import clip_scores, render_clips
from avatarvid.sampling.renderer import RendererSampling, renderer_solver
from avatarvid.stages.refiner import condition, load_renderer, to_tensor
from avatarvid.warp.normals import decode_normal_map


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="avatarvid study diagnose_renderer", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--checkpoint", type=Path, default=checkpoint_path("renderer"))
    ap.add_argument("--clips", type=Path, default=Path("out/renderer_work/validation_64_8.npz"))
    ap.add_argument("--draws", type=int, default=6)
    ap.add_argument(
        "--sample",
        nargs="+",
        default=["2:1.0:4", "2:1.0:1", "2:0.5:4", "4:0.5:1"],
        help="settings to score, STEPS:STRENGTH:SAMPLES[:GUIDANCE[:ddim|dpm]] (default: the "
        "shipped 2:1.0:4, ...)",
    )
    ap.add_argument("--per-source", type=int, help="also score each face's N clips apart")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, sched_cfg = load_renderer(args.checkpoint)
    clips = ClipSet.load(args.clips)
    scale = float(model.config.residual_scale)
    warped = to_tensor(clips.warped)
    cond = torch.stack([condition(*p) for p in clips.condition_inputs()])

    def psnr(correction: torch.Tensor) -> str:
        x = ((warped + correction / scale).clamp(-1, 1).movedim(-3, -1).numpy() + 1) * 127.5
        s = clip_scores(x.round().clip(0, 255).astype(np.uint8), clips.gt, clips.mouth)
        return f"{s['psnr']:.2f} (mouth {s['mouth_psnr']:.2f})"

    print("warp", psnr(torch.zeros_like(warped)))
    alphas = renderer_solver("ddim", sched_cfg).alphas_cumprod
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
    outputs = {"warp": clips.warped, "oracle relighting": oracle_relighting(clips)}
    for spec in args.sample:
        parts = spec.split(":")
        steps, strength, samples, guidance, scheduler = parts + ["1.0", "ddim"][len(parts) - 3 :]
        settings = RendererSampling(
            steps=int(steps),
            strength=float(strength),
            samples=int(samples),
            guidance=float(guidance),
            scheduler=scheduler,
            window=frames,
            chunk=frames,
            overlap=0,
            known=0,
        )
        outputs[spec] = render_clips(model, sched_cfg, clips, settings)
    n = args.per_source
    for name, out in outputs.items():
        print(f"{name}: {_table(out, clips, slice(None))}")
        if n:
            for i in range(0, len(clips.gt), n):
                print(f"  clips {i}-{i + n - 1}: {_table(out, clips, slice(i, i + n))}")
    return 0


def oracle_relighting(clips: ClipSet) -> np.ndarray:
    """The warp times the target / reference shading ratio where both normal maps cover it."""
    target, on_target = decode_normal_map(clips.normals)
    reference, on_reference = decode_normal_map(clips.reference_normals)
    ratio = np.where(on_target & on_reference, lambert(target) / lambert(reference), 1.0)
    return np.clip(clips.warped * ratio[..., None], 0, 255).round().astype(np.uint8)


def _table(out: np.ndarray, clips: ClipSet, which: slice) -> str:
    s = clip_scores(out[which], clips.gt[which], clips.mouth[which])
    return (
        f"PSNR {s['psnr']:.2f} SSIM {s['ssim']:.4f} "
        f"mouth PSNR {s['mouth_psnr']:.2f} mouth SSIM {s['mouth_ssim']:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
