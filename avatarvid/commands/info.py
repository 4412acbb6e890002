"""`avatarvid info`: what is installed and what avatarvid will run on."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os

PACKAGES = ("torch", "diffusers", "mediapipe", "av", "decord", "opencv-python-headless", "numpy")


def register(sub) -> None:
    p = sub.add_parser(
        "info",
        help="versions, device, presets and checkpoints",
        description="Print versions, compute device, attention backend, presets and checkpoints.",
    )
    p.set_defaults(func=run)


def run(_: argparse.Namespace) -> int:
    import torch

    from avatarvid.assets import checkpoints_dir, preset_names, shipped_checkpoints

    for pkg in PACKAGES:
        try:
            version = md.version(pkg)
        except md.PackageNotFoundError:
            version = "NOT INSTALLED"
        print(f"{pkg:24s} {version}")
    from avatarvid.device import resolve_device

    device = resolve_device("auto")
    print(
        f"{'device':24s} {device} (what --device auto picks; {os.cpu_count()} CPU cores, "
        f"{torch.get_num_threads()} torch threads)"
    )
    from avatarvid.models.attention import attention_backend

    print(f"{'attention':24s} {attention_backend(device)} (xformers on CUDA when installed)")
    print(f"{'presets':24s} {', '.join(preset_names())}")
    found = shipped_checkpoints()
    print(f"{'checkpoints':24s} {', '.join(found) or 'none'} ({checkpoints_dir()})")
    return 0
