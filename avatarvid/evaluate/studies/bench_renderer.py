"""Renderer U-Net vs diffusers' UNet3DConditionModel at equal parameters, resolution, frames.

    avatarvid study bench_renderer [--size 64] [--patch-size 1] [--frames 8] [--threads N]
                                   [--json out.json]

Both get the same 18-channel input (noisy sample + 15 condition channels) and return 3
channels (ours on `--patch-size` pixel blocks when > 1, the peer on pixels). The peer uses its
usual layout (cross-attention blocks at the two highest resolutions, a plain block at the
lowest) with a single zero context token, and its widths are scaled until its parameter count
is within a few percent of ours. Timings are interleaved and the median of several repeats is
reported, because this machine is shared. FLOPs per frame and network pass are counted by
torch's FlopCounterMode (convolutions, matmuls, attention: 2 per multiply-add; norms and
activations are not counted), and the measured time is set against the time those FLOPs take
at FLOOR_GFLOPS per thread (this CPU's ~55 GFLOP/s per core).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from diffusers import UNet3DConditionModel
from torch.utils.flop_counter import FlopCounterMode

from avatarvid.assets import checkpoint_path
from avatarvid.models.renderer_unet import COND_CHANNELS, RendererUNet

FLOOR_GFLOPS = 55.0


def configs() -> dict[str, dict]:
    """Ours: the shipped checkpoint's shape and a ~5 M parameter one (read when run, so
    `--help` needs no weights)."""
    shipped = json.loads((checkpoint_path("renderer") / "config.json").read_text())
    return {
        "shipped": {k: tuple(shipped[k]) for k in ("block_channels", "attention_levels")},
        "5M": dict(block_channels=(64, 128, 192), attention_levels=(False, False, True)),
    }


def params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def peer(chans: tuple[int, int, int], size: int) -> UNet3DConditionModel:
    return UNet3DConditionModel(
        sample_size=size,
        in_channels=3 + COND_CHANNELS,
        out_channels=3,
        down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
        block_out_channels=chans,
        layers_per_block=1,
        norm_num_groups=8,
        cross_attention_dim=64,
        attention_head_dim=8,
    )


def matched_peer(target: int, size: int) -> UNet3DConditionModel:
    """The peer whose parameter count is closest to `target` (widths multiples of 8)."""
    shapes = [(w, 2 * w, m * w) for w in range(8, 129, 8) for m in (2, 3, 4)]
    counts = {c: params(peer(c, size)) for c in shapes}
    return peer(min(shapes, key=lambda c: abs(counts[c] - target)), size)


def seconds(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def flops(fn) -> int:
    """FLOPs of one call of `fn`, as torch counts them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@torch.no_grad()
def bench(name: str, shape: dict, size: int, frames: int, repeats: int, patch: int = 1) -> dict:
    torch.manual_seed(0)
    ours = RendererUNet(sample_size=size, patch_size=patch, **shape).eval()
    theirs = matched_peer(params(ours), size).eval()
    x = torch.randn(1, frames, 3, size, size)
    cond = torch.randn(1, frames, COND_CHANNELS, size, size)
    joined = torch.cat([x, cond], 2).permute(0, 2, 1, 3, 4).contiguous()
    context = torch.zeros(1, 1, 64)
    t = torch.tensor([500])

    def run_ours():
        ours(x, t, cond)

    def run_theirs():
        theirs(joined, t, context, return_dict=False)

    run_ours(), run_theirs()  # warm-up
    floor = FLOOR_GFLOPS * torch.get_num_threads()
    ours_gflop = flops(run_ours) / frames / 1e9
    theirs_gflop = flops(run_theirs) / frames / 1e9
    a, b = [], []
    for _ in range(repeats):
        a += seconds(run_ours, 1)
        b += seconds(run_theirs, 1)
    ours_s, theirs_s = statistics.median(a), statistics.median(b)
    return {
        "config": name,
        "size": size,
        "patch_size": patch,
        "frames": frames,
        "ours_params": params(ours),
        "peer_params": params(theirs),
        "peer_widths": list(theirs.config.block_out_channels),
        "ours_s_per_frame_step": round(ours_s / frames, 4),
        "peer_s_per_frame_step": round(theirs_s / frames, 4),
        "speedup": round(theirs_s / ours_s, 2),
        "threads": torch.get_num_threads(),
        "ours_gflop_per_frame_step": round(ours_gflop, 3),
        "peer_gflop_per_frame_step": round(theirs_gflop, 3),
        "ours_time_over_floor": round(ours_s / frames / (ours_gflop / floor), 2),
        "peer_time_over_floor": round(theirs_s / frames / (theirs_gflop / floor), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="avatarvid study bench_renderer", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--patch-size", type=int, default=1, help="ours on pixel blocks of this side")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 or 2 here)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [
        bench(name, shape, args.size, args.frames, args.repeats, args.patch_size)
        for name, shape in configs().items()
    ]
    print(
        "| config | params ours / peer | s per frame-step ours / peer | ours faster by "
        "| GFLOP per frame-step ours / peer | time over the floor ours / peer |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['config']} | {r['ours_params'] / 1e6:.2f} M / {r['peer_params'] / 1e6:.2f} M "
            f"| {r['ours_s_per_frame_step']} / {r['peer_s_per_frame_step']} | {r['speedup']}x "
            f"| {r['ours_gflop_per_frame_step']} / {r['peer_gflop_per_frame_step']} "
            f"| {r['ours_time_over_floor']}x / {r['peer_time_over_floor']}x |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
