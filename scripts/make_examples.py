"""Rebuilds the bundled example inputs in examples/ (both are committed; rerun only to change them).

- astronaut.png: Eileen Collins, NASA portrait (public domain), as shipped by scikit-image.
- speech.wav: English speech synthesised with Debian's espeak-ng (`apt-get install espeak-ng`).
"""

import subprocess
from pathlib import Path

from PIL import Image
from skimage import data

TEXT = (
    "Hello, and welcome to my video log. Today I want to show you something new. "
    "This clip was made from a single photo and a voice recording. Pretty neat, right?"
)


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "examples"
    out.mkdir(exist_ok=True)
    Image.fromarray(data.astronaut()).save(out / "astronaut.png", optimize=True)
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-g", "6", "-w", str(out / "speech.wav"), TEXT],
        check=True,
    )


if __name__ == "__main__":
    main()
