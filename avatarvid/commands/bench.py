"""`avatarvid bench`: speed and memory vs video length."""

from __future__ import annotations

import argparse
from pathlib import Path

from avatarvid.assets import examples_dir
from avatarvid.commands.options import add_device


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="speed and memory vs video length",
        description="Time the vlog pipeline per stage for several audio lengths and sizes, each "
        "in a fresh process; print a table and write JSON.",
    )
    p.add_argument(
        "--seconds", type=float, nargs="+", default=[5, 20, 60], help="audio lengths to render"
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="output sizes")
    p.add_argument("--preset", default="default")
    p.add_argument("--image", type=Path, default=examples_dir() / "astronaut.png")
    p.add_argument(
        "--audio",
        type=Path,
        default=examples_dir() / "speech.wav",
        help="speech to loop/cut to each length",
    )
    p.add_argument("--json", type=Path, default=Path("bench.json"), help="where to write JSON")
    add_device(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.evaluate.bench import run_benchmark

    run_benchmark(
        args.image,
        args.audio,
        args.seconds,
        args.sizes,
        args.preset,
        args.json,
        args.device or "auto",
    )
    return 0
