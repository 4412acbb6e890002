"""The motion contract: one named, versioned per-frame residual layout shared by every stage.

A motion track is a (frames, channels) float32 array of *residuals relative to the reference
photo*: all zeros reproduces the photo. Producers (procedural baseline, diffusion model,
tracked videos, user edits) and consumers (rig, renderers, exporters) agree on it through
`MOTION_LAYOUT`; files carry the layout's name and version so stale files fail loudly.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarvid.errors import InputError
from avatarvid.media.partials import partial_path, remove_stale_partials


@dataclass(frozen=True)
class Channel:
    """One residual channel with its unit and the range the rig is designed for."""

    name: str
    low: float
    high: float
    unit: str


HEAD_ROTATION = ("head_pitch", "head_yaw", "head_roll")
HEAD_TRANSLATION = ("head_tx", "head_ty", "head_scale")
EXPRESSIONS = (
    "jaw_open",
    "lip_close",
    "lip_press",
    "lip_funnel",
    "lip_pucker",
    "smile_l",
    "smile_r",
    "stretch_l",
    "stretch_r",
    "upper_lip_up",
    "lower_lip_down",
    "blink_l",
    "blink_r",
    "brow_inner_up",
    "brow_outer_up_l",
    "brow_outer_up_r",
    "brow_down",
)
GAZE = ("gaze_x", "gaze_y")
# The expressions that articulate speech: lip sync lives here, so style controls leave them be.
MOUTH_CHANNELS = (
    "jaw_open",
    "lip_close",
    "lip_press",
    "lip_funnel",
    "lip_pucker",
    "stretch_l",
    "stretch_r",
    "upper_lip_up",
    "lower_lip_down",
)
BLINK_WIDEST = -0.5  # blink at its low end: the lid gap 1.475 x the reference's


def _channels() -> tuple[Channel, ...]:
    rot = tuple(Channel(n, -0.6, 0.6, "radian") for n in HEAD_ROTATION)
    # Translations in inter-ocular distances; head_scale is the relative size change
    # (moving towards the camera), which is what a translation in depth looks like.
    trans = tuple(Channel(n, -1.0, 1.0, "inter-ocular distance") for n in HEAD_TRANSLATION[:2])
    scale = (Channel("head_scale", -0.3, 0.3, "relative size"),)
    # Blinks may go negative: lids further apart than the reference's (a driver's eyes opening
    # wider than on its first frame; clipped at 0, a held-out driver's eye correlation was 0.1).
    expr = tuple(
        Channel(n, BLINK_WIDEST if n.startswith("blink") else 0.0, 1.0, "rig weight")
        for n in EXPRESSIONS
    )
    gaze = tuple(Channel(n, -1.0, 1.0, "fraction of eye half-width") for n in GAZE)
    return rot + trans + scale + expr + gaze


@dataclass(frozen=True)
class MotionLayout:
    """Names, order and ranges of the residual channels."""

    name: str
    version: int
    channels: tuple[Channel, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.name: i for i, c in enumerate(self.channels)})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def dim(self) -> int:
        return len(self.channels)

    def index(self, name: str) -> int:
        return self._index[name]

    def indices(self, names: tuple[str, ...]) -> list[int]:
        return [self._index[n] for n in names]

    @property
    def low(self) -> np.ndarray:
        return np.array([c.low for c in self.channels], dtype=np.float32)

    @property
    def high(self) -> np.ndarray:
        return np.array([c.high for c in self.channels], dtype=np.float32)


MOTION_LAYOUT = MotionLayout("avatarvid-face-residual", 1, _channels())


@dataclass
class Motion:
    """A motion track: `values` is (frames, MOTION_LAYOUT.dim) float32 at `fps`."""

    values: np.ndarray
    fps: float
    layout: MotionLayout = MOTION_LAYOUT

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim != 2 or self.values.shape[1] != self.layout.dim:
            raise ValueError(f"motion must be (frames, {self.layout.dim}), got {self.values.shape}")

    @classmethod
    def zeros(cls, num_frames: int, fps: float) -> Motion:
        return cls(np.zeros((num_frames, MOTION_LAYOUT.dim), np.float32), fps)

    @property
    def num_frames(self) -> int:
        return self.values.shape[0]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[:, self.layout.index(name)]

    def __setitem__(self, name: str, column: np.ndarray) -> None:
        self.values[:, self.layout.index(name)] = column

    def clipped(self) -> Motion:
        """Residuals limited to the ranges the rig is built for."""
        return Motion(np.clip(self.values, self.layout.low, self.layout.high), self.fps)

    def save(self, path: str | Path) -> None:
        """Writes an .npz a user can edit with numpy and load back with `Motion.load`."""
        path = Path(path)
        if not path.parent.exists():
            raise InputError(f"output directory {path.parent} does not exist")
        remove_stale_partials(path.parent)
        partial = partial_path(path)
        try:
            with open(partial, "wb") as f:
                np.savez(
                    f,
                    values=self.values,
                    fps=np.float32(self.fps),
                    names=np.array(self.layout.names),
                    layout=np.array(self.layout.name),
                    version=np.int32(self.layout.version),
                )
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path) -> Motion:
        """Reads a motion .npz, checking the layout so a stale or foreign file fails clearly, and
        its sizes before decompressing, so a small hostile file cannot fill the memory."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"motion file {path} does not exist or is not a file")
        if path.stat().st_size == 0:
            raise InputError(f"motion file {path} is empty")
        _check_npz_sizes(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                layout, version = str(z["layout"]), int(z["version"])
                names = tuple(str(n) for n in z["names"])
                values, fps = z["values"], z["fps"]
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
            reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            raise InputError(f"{path} is not an avatarvid motion file ({reason})") from None
        if layout != MOTION_LAYOUT.name or version != MOTION_LAYOUT.version:
            raise InputError(
                f"{path} has motion layout {layout} v{version}; this avatarvid reads "
                f"{MOTION_LAYOUT.name} v{MOTION_LAYOUT.version}"
            )
        if names != MOTION_LAYOUT.names or values.ndim != 2 or values.shape[1] != len(names):
            raise InputError(f"{path}: channel names or shape do not match the motion layout")
        if values.dtype.kind not in "fiu" or fps.dtype.kind not in "fiu" or fps.size != 1:
            raise InputError(f"{path}: motion values and fps must be numbers")
        fps = float(fps.reshape(()))
        if values.shape[0] == 0:
            raise InputError(f"{path} holds no frames")
        if not np.isfinite(values).all():
            raise InputError(f"{path}: motion values must be finite")
        if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
            raise InputError(f"{path}: fps is {fps:g}; it must be between {MIN_FPS} and {MAX_FPS}")
        return cls(values.astype(np.float32), fps)

    def resampled(self, fps: float, num_frames: int) -> Motion:
        """Linear resampling in time, e.g. when a motion file is reused at another frame rate."""
        src_t = np.arange(self.num_frames) / self.fps
        dst_t = np.arange(num_frames) / fps
        cols = [np.interp(dst_t, src_t, self.values[:, i]) for i in range(self.layout.dim)]
        return Motion(np.stack(cols, axis=1), fps)


# Limits for motion files read from users: 64 MB unpacked is hours of motion at 60 fps.
MAX_MOTION_BYTES = 64 * 2**20
MIN_FPS, MAX_FPS = 1.0, 240.0


def _check_npz_sizes(path: Path) -> None:
    """Refuses archives whose members would unpack to more than MAX_MOTION_BYTES."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"{path} is not an avatarvid motion file (not an .npz archive)") from None
    if total > MAX_MOTION_BYTES:
        raise InputError(
            f"{path} would unpack to {total / 2**20:.0f} MB; motion files are limited to "
            f"{MAX_MOTION_BYTES // 2**20} MB"
        )
