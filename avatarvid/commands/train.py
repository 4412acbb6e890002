"""`avatarvid train TARGET --config FILE`: train one of avatarvid's models.

Each target is a module exposing `train(config_path: Path, resume: bool) -> int`; it uses
accelerate, so the same command runs on this CPU or on many GPUs (`accelerate launch`).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from avatarvid.errors import InputError

# target name -> module implementing `train(config_path, resume)`
TARGETS: dict[str, str] = {
    "motion": "avatarvid.train.motion",
    "renderer": "avatarvid.train.renderer",
    "sr": "avatarvid.train.sr",
}


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (motion, renderer, sr)",
        description="Train a model from a YAML training config (configs/train/*.yaml).",
    )
    p.add_argument("target", choices=sorted(TARGETS), help="which model to train")
    p.add_argument("--config", required=True, type=Path, help="training config YAML")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.config.is_file():
        raise InputError(f"training config {args.config} does not exist")
    return importlib.import_module(TARGETS[args.target]).train(args.config, args.resume)
