"""Load a user photo as an upright RGB uint8 array, refusing files we cannot safely decode."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from avatarvid.errors import InputError, existing_file

MIN_SIDE = 64
MAX_PIXELS = 50_000_000
WORK_MAX_SIDE = 2048

_WHITE = (255, 255, 255)


def load_image(path: str | Path) -> np.ndarray:
    """Return the photo at `path` as HxWx3 uint8 RGB, upright, alpha on white.

    The pixel budget is checked from the header before decoding so a huge or malicious file
    is refused without allocating it; photos above WORK_MAX_SIDE are downscaled because no
    stage needs more and full-size decodes cost seconds and gigabytes.
    """
    path = existing_file(path, "image")
    try:
        with warnings.catch_warnings():
            # We enforce our own, stricter limit below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_size(path, img.size)
                _draft(img)
                img.load()
                return _to_rgb_array(img)
    except Image.DecompressionBombError as exc:
        raise _too_large(path) from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{path} is not an image Pillow can read; use a JPEG or PNG") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"image {path} is truncated or corrupt ({exc}); re-export it") from exc


def _check_size(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise _too_large(path)
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"image {path} is too small ({width}x{height}); "
            f"use a photo at least {MIN_SIDE} pixels on each side"
        )


def _too_large(path: Path) -> InputError:
    return InputError(
        f"image {path} is too large (over {MAX_PIXELS // 1_000_000} megapixels); "
        f"downscale it to at most {WORK_MAX_SIDE} pixels on the long side"
    )


def _draft(img: Image.Image) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still exceeds the target size."""
    scale = WORK_MAX_SIDE / max(img.size)
    if img.format in ("JPEG", "MPO") and scale < 1:
        img.draft(None, (int(img.width * scale) + 1, int(img.height * scale) + 1))


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith("I"):
        # 16/32-bit greyscale: Pillow's convert() clips instead of scaling, giving a white image.
        img = Image.fromarray(
            (np.asarray(img, dtype=np.float32) / 257).clip(0, 255).astype(np.uint8)
        )
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, _WHITE)
        img.paste(rgba, mask=rgba.getchannel("A"))
    img = img.convert("RGB")
    scale = WORK_MAX_SIDE / max(img.size)
    if scale < 1:
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.array(img, dtype=np.uint8)
