"""Frames per second of the SR models on this CPU (random frames; speed does not depend on
content): x2 256 -> 512, the x4 cascade 128 -> 256 -> 512, fast and diffusion.

usage: avatarvid study bench_sr [--frames 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, load_sr_schedule


def fps(variant: str, scale: int, frames: int, steps: int) -> float:
    schedule = load_sr_schedule(variant) if variant == "diffusion" else None
    up = VideoUpscaler(load_sr_model(variant), scale, steps=steps, schedule=schedule)
    rng = np.random.default_rng(0)
    side = 512 // scale
    inputs = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(frames)]
    start = time.perf_counter()
    done = sum(len(up.push(f)) for f in inputs) + len(up.flush())
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatarvid study bench_sr")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()[0]:.2f} (the machine is shared; >1.5 = busy)")
    for variant, scale in (("fast", 2), ("fast", 4), ("diffusion", 2)):
        frames = args.frames if variant == "fast" else max(16, args.frames // 2)
        speed = fps(variant, scale, frames, args.steps)
        print(f"{variant} x{scale} -> 512 px: {speed:.2f} fps (load {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
