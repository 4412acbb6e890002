"""Frames per second of the SR models on this CPU (random frames; speed does not depend on
content): x2 256 -> 512, the x4 cascade 128 -> 256 -> 512, fast and diffusion, and fast x2 with
a guide over the whole frame (the network's cost; `upscale --reference` adds the face tracking
and optical flow that make the guide, ~30 ms a frame); with --memory,
the peak RSS and time of `avatarvid upscale` on large frames (e.g. x4 of 512 px -> 2048 px).

usage: avatarvid study bench_sr [--frames 32] [--threads 2] [--memory 512 768 --scale 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, load_sr_schedule


def fps(variant: str, scale: int, frames: int, steps: int, guided: bool = False) -> float:
    schedule = load_sr_schedule(variant) if variant == "diffusion" else None
    up = VideoUpscaler(load_sr_model(variant), scale, steps=steps, schedule=schedule)
    rng = np.random.default_rng(0)
    side = 512 // scale
    inputs = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(frames)]
    guide = (rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), np.ones((512, 512), np.float32))
    extra = guide if guided else ()
    start = time.perf_counter()
    done = sum(len(up.push(f, *extra)) for f in inputs) + len(up.flush())
    return done / (time.perf_counter() - start)


def upscale_peak(
    width: int, scale: int, frames: int, max_memory: int | None
) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `avatarvid upscale` of a width x 3/4 width clip, run as a
    child process so its peak is its own."""
    from avatarvid.media.video import VideoWriter

    height = width * 3 // 4 // 2 * 2
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "in.mp4"
        with VideoWriter(clip, 25, width, height) as writer:
            base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            for i in range(frames):
                writer.write(np.roll(base, 3 * i, axis=1))
        command = [sys.executable, "-m", "avatarvid.cli", "upscale", "--video", str(clip)]
        command += ["-o", str(Path(tmp) / "out.mp4"), "--scale", str(scale), "-q"]
        if max_memory is not None:
            command += ["--max-memory", str(max_memory)]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - start
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="avatarvid study bench_sr")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--memory", type=int, nargs="+", metavar="WIDTH", help="input widths")
    parser.add_argument("--scale", type=int, default=4, help="with --memory: 2 or 4")
    parser.add_argument("--max-memory", type=int, help="with --memory: upscale's --max-memory")
    args = parser.parse_args(argv)
    if args.memory:
        for width in args.memory:  # one child each, in increasing size: the peak is the last's
            peak, seconds = upscale_peak(width, args.scale, args.frames, args.max_memory)
            out = f"{width * args.scale} px"
            print(f"x{args.scale} {width} -> {out}: peak RSS {peak:.0f} MB, {seconds:.1f} s")
        return 0
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()[0]:.2f} (the machine is shared; >1.5 = busy)")
    for variant, scale, guided in (
        ("fast", 2, False),
        ("fast", 4, False),
        ("diffusion", 2, False),
        ("fast", 2, True),
    ):
        frames = args.frames if variant == "fast" else max(16, args.frames // 2)
        speed = fps(variant, scale, frames, args.steps, guided)
        name = f"{variant} x{scale}{' guided' if guided else ''}"
        print(f"{name} -> 512 px: {speed:.2f} fps (load {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
