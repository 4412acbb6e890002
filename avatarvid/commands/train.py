"""`avatarvid train TARGET --config FILE`: train one of avatarvid's models.

Each target is a module exposing `train(config_path, resume, device) -> int` over the
shared loop (train/loop.py); it uses accelerate, so the same command runs on this CPU or on
several processes / GPUs (`accelerate launch -m avatarvid.cli train ...`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from avatarvid.device import DEVICE_CHOICES

# target name -> module implementing `train(config_path, resume, device)`
TARGETS: dict[str, str] = {
    "motion": "avatarvid.train.motion",
    "motion-prior": "avatarvid.train.motion_prior",
    "renderer": "avatarvid.train.renderer",
    "renderer-distill": "avatarvid.train.renderer_distill",
    "sr": "avatarvid.train.sr",
}


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (motion, motion-prior, renderer, renderer-distill, sr)",
        description="Train a model from a YAML training config (configs/train/*.yaml).",
    )
    p.add_argument("target", choices=sorted(TARGETS), help="which model to train")
    p.add_argument("--config", required=True, type=Path, help="training config YAML")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument(
        "--device", choices=DEVICE_CHOICES, default="auto", help="where to train (default: auto)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.getLogger("avatarvid").setLevel(logging.INFO)
    target = importlib.import_module(TARGETS[args.target])
    return target.train(args.config, args.resume, args.device)
