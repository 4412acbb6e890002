"""Rebuilds the bundled example inputs in avatarvid/examples/ (committed; rerun only to change
them).

- astronaut.png: Eileen Collins, NASA portrait (public domain), as shipped by scikit-image.
- speech.wav: English speech synthesised with Debian's espeak-ng (`apt-get install espeak-ng`).
- lines/*.wav: short espeak-ng lines for examples/batch.yaml (`avatarvid study make_examples
  lines` rebuilds only these).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from PIL import Image
from skimage import data

from avatarvid.assets import examples_dir

TEXT = (
    "Hello, and welcome to my video log. Today I want to show you something new. "
    "This clip was made from a single photo and a voice recording. Pretty neat, right?"
)

# Short lines (a few seconds each) for the batch example.
LINES = {
    "hello": "Hi everyone, thanks for watching.",
    "update": "Here is a quick update on the project.",
    "goodbye": "That's all for today. See you next time!",
}


def make_lines(out: Path) -> None:
    (out / "lines").mkdir(exist_ok=True)
    for name, text in LINES.items():
        wav = out / "lines" / f"{name}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-g", "6", "-w", str(wav), text], check=True
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="avatarvid study make_examples", description=__doc__.splitlines()[0]
    )
    ap.add_argument("only", nargs="?", choices=["lines"], help="rebuild only the batch lines")
    ap.add_argument("--out", type=Path, default=examples_dir(), help="default: the package's")
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(exist_ok=True)
    make_lines(out)
    if args.only == "lines":
        return 0
    Image.fromarray(data.astronaut()).save(out / "astronaut.png", optimize=True)
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-g", "6", "-w", str(out / "speech.wav"), TEXT],
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
