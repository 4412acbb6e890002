"""The package as a user gets it: a wheel built from this checkout, installed into a fresh venv,
run from a folder outside the checkout. Presets, weights and the example must travel inside it.

Nothing is downloaded: the fresh venv sees this interpreter's installed dependencies through a
`.pth` file, and the wheel goes in with `--no-deps`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import read_wav, write_wav

from avatarvid.assets import CHECKPOINT_NAMES
from avatarvid.media.video import probe

CHECKOUT = Path(__file__).resolve().parents[1]
# Not copied: git state, local venvs, caches, outputs, and earlier build products.
SKIP = (".git", ".venv", "__pycache__", "*.egg-info", "build", "out", ".*_cache")


def run(*argv: str | Path, cwd: Path) -> str:
    """Run without PYTHONPATH or a checkpoint override, so only the installed package is seen."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AVATARVID_CHECKPOINTS")}
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the checkout: an in-tree setuptools build would leave build/ and
    avatarvid.egg-info/ in the working tree."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    run(*pip, "-w", work / "dist", source, cwd=work)
    (built,) = (work / "dist").glob("avatarvid-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel; dependencies come from this interpreter's."""
    root = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    python = root / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
    host = sysconfig.get_paths()["purelib"]
    Path(site.strip(), "_avatarvid_test_dependencies.pth").write_text(host + "\n")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q"]
    run(*pip, wheel, cwd=root)
    return root


def test_wheel_carries_weights_presets_and_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in CHECKPOINT_NAMES:
        for part in ("config.json", "diffusion_pytorch_model.safetensors"):
            assert f"avatarvid/checkpoints/{model}/{part}" in names
    assert "avatarvid/checkpoints/renderer/scheduler_config.json" in names
    presets = ("default", "diffusion", "fast", "quality")
    assert {f"avatarvid/config/presets/{p}.yaml" for p in presets} <= names
    example = {"astronaut.png", "speech.wav", "batch.yaml", "lines/hello.wav"}
    assert {f"avatarvid/examples/{e}" for e in example} <= names
    assert not any(n.startswith(("tests/", "scripts/", "configs/")) for n in names)


def test_installed_wheel_lists_assets_and_renders_from_elsewhere(venv, tmp_path, speech_path):
    python, avatarvid = venv / "bin" / "python", venv / "bin" / "avatarvid"
    where = run(python, "-c", "import avatarvid; print(avatarvid.__file__)", cwd=tmp_path)
    print("imported from", where.strip())
    package = Path(where.strip()).parent
    assert package.is_relative_to(venv) and not package.is_relative_to(CHECKOUT)

    info = dict(line.split(None, 1) for line in run(avatarvid, "info", cwd=tmp_path).splitlines())
    assert info["presets"] == "default, diffusion, fast, quality"
    assert info["checkpoints"].startswith(
        "motion, motion/prior, renderer, renderer/distilled, sr/fast, sr/diffusion ("
    )
    assert str(package / "checkpoints") in info["checkpoints"]

    samples, rate = read_wav(speech_path)
    audio = write_wav(tmp_path / "two_seconds.wav", samples[: 2 * rate], rate)
    photo = package / "examples" / "astronaut.png"
    run(avatarvid, "vlog", "--image", photo, "--audio", audio, "-o", "out.mp4", "-q", cwd=tmp_path)
    video = probe(tmp_path / "out.mp4")
    assert video.num_frames == round(2 * video.fps)
    assert video.audio_codec == "aac"
