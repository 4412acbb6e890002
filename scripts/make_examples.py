"""Rebuilds the bundled example inputs in examples/ (both are committed; rerun only to change them).

- astronaut.png: Eileen Collins, NASA portrait (public domain), as shipped by scikit-image.
- speech.wav: English speech synthesised with Debian's espeak-ng (`apt-get install espeak-ng`).
- lines/*.wav: short espeak-ng lines for examples/batch.yaml (`make_examples.py lines` rebuilds
  only these).
"""

import subprocess
import sys
from pathlib import Path

from PIL import Image
from skimage import data

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


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "examples"
    out.mkdir(exist_ok=True)
    make_lines(out)
    if sys.argv[1:] == ["lines"]:
        return
    Image.fromarray(data.astronaut()).save(out / "astronaut.png", optimize=True)
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-g", "6", "-w", str(out / "speech.wav"), TEXT],
        check=True,
    )


if __name__ == "__main__":
    main()
