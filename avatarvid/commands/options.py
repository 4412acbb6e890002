"""What the render commands share: --device, flags -> settings overrides, the progress bar.

Flags only override: they default to None and the settings models (config/settings.py) hold
the defaults, so a flag and an API keyword take the same path (config/load.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        metavar="auto|cpu|cuda|mps",
        help="where the networks run (default auto: CUDA, else Apple MPS, else the CPU)",
    )


def overrides(args: argparse.Namespace, table: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The flags given (dest -> dotted settings field in `table`) as nested overrides, and the
    dotted field -> flag map that lets a bad value be reported by its flag."""
    values: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for dest, dotted in table.items():
        flags[dotted] = "--" + dest.replace("_", "-")
        value = getattr(args, dest)
        if value is None:
            continue
        node = values
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return values, flags


class ProgressBar:
    """A pipeline progress callback drawing one tqdm bar per frame-counted stage (stderr, only
    on a terminal and without -q)."""

    def __init__(self, quiet: bool):
        self.enabled = not quiet and sys.stderr.isatty()
        self.stage: str | None = None
        self.bar: Any = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            if total is not None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=stage, unit="frame", leave=False)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
