"""`avatarvid info`: what is installed and what avatarvid will run on."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
from pathlib import Path

PACKAGES = ("torch", "diffusers", "mediapipe", "av", "decord", "opencv-python-headless", "numpy")
CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


def register(sub) -> None:
    p = sub.add_parser(
        "info",
        help="versions, device and checkpoints found",
        description="Print versions, compute device, presets and checkpoints.",
    )
    p.set_defaults(func=run)


def run(_: argparse.Namespace) -> int:
    import torch

    from avatarvid.config import CONFIG_DIR

    for pkg in PACKAGES:
        try:
            version = md.version(pkg)
        except md.PackageNotFoundError:
            version = "NOT INSTALLED"
        print(f"{pkg:24s} {version}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"{'device':24s} {device} ({os.cpu_count()} CPU cores, "
        f"{torch.get_num_threads()} torch threads)"
    )
    print(f"{'presets':24s} {', '.join(sorted(p.stem for p in CONFIG_DIR.glob('*.yaml')))}")
    found = sorted(p.parent.name for p in CHECKPOINTS.glob("*/config.json"))
    print(f"{'checkpoints':24s} {', '.join(found) or 'none'}")
    return 0
