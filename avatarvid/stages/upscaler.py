"""Stream a video through the SR cascade in windows (memory flat in length).

Frames are pushed one at a time; every `window` frames the cascade (x2 per stage) runs on the
window. A frame's output depends on its neighbours only within the cascade's temporal radius
r (one frame per temporal layer and stage), so consecutive windows share 2r frames and each window
keeps only the frames that had r real neighbours on both sides: for the one-pass network the
stream equals processing the whole video at once, so window boundaries cannot show. (The
diffusion variant's steps widen its reach and its noise is drawn per window: there it is an
approximation.) A larger window wastes fewer frames on context; 16 keeps memory small.
Emitted frames pass, in order, through a motion-adaptive temporal hold (`temporal.py`).

Memory is bounded by `max_memory_mb`, whatever the frame size: large frames get a shorter window
(never below the 2r + 2 the exactness needs) and the network runs on spatial tiles with
TILE_MARGIN low-res pixels of overlap, more than its receptive radius, so tiles join exactly
(the diffusion variant's noise is drawn for the whole frame and cropped per tile).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import torch

from avatarvid.assets import checkpoint_path
from avatarvid.config.settings import SR_MAX_MEMORY_MB
from avatarvid.errors import CheckpointError, InputError
from avatarvid.models.sr_net import SRNet
from avatarvid.sampling.schedulers import load_scheduler
from avatarvid.sampling.sr import sr_noise, super_resolve
from avatarvid.stages.sr_temporal import StaticHold

SCALES = (2, 4)
# Peak bytes SRNet holds per low-res pixel and frame (activations of 24 channels and the
# guide's features; measured: 434 guided, 365 unguided, 16 frames of 256 x 256).
ACTIVATION_BYTES = 440
# Low-res pixels of context around a tile: more than the network's receptive radius (8 convs).
TILE_MARGIN = 12


def _sr_path(variant: str, directory: Path | None) -> Path:
    return checkpoint_path(f"sr/{variant}") if directory is None else Path(directory) / variant


def load_sr_model(
    variant: str, directory: Path | None = None, device: torch.device | str = "cpu"
) -> SRNet:
    """The shipped `fast` or `diffusion` checkpoint (safetensors + config.json), in eval mode
    on `device`."""
    path = _sr_path(variant, directory)
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"no SR checkpoint in {path}; rebuild it with scripts/build_sr_checkpoints.sh"
        )
    return SRNet.from_pretrained(path).to(device).eval()


def load_sr_schedule(variant: str, directory: Path | None = None) -> Mapping:
    """The checkpoint's noise schedule (scheduler config) the diffusion variant samples on."""
    return load_scheduler(_sr_path(variant, directory)).config


def stages_for(scale: int) -> int:
    """Number of x2 stages; only powers of two the cascade supports."""
    if scale not in SCALES:
        raise InputError(f"scale {scale} is not supported; use 2 or 4")
    return scale.bit_length() - 1


def _to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0


class VideoUpscaler:
    """x`scale` upscaling of a frame stream: bicubic (`model=None`) or an SRNet cascade.

    `push(frame, guide, mask)` returns the frames that are final so far (possibly none);
    `flush()` returns the rest. A guide is a full-output-resolution uint8 image aligned with
    the frame (the reference warped to it), `mask` an output-resolution float map of where
    the guide is valid.
    """

    def __init__(
        self,
        model: SRNet | None,
        scale: int,
        window: int = 16,
        steps: int = 4,
        seed: int = 0,
        schedule: Mapping | None = None,
        device: torch.device | str = "cpu",
        max_memory_mb: int = SR_MAX_MEMORY_MB,
    ):
        """`schedule`: the diffusion variant's scheduler config (`load_sr_schedule`);
        `window` is the longest window, shortened for large frames to fit `max_memory_mb`."""
        model = None if model is None else model.to(device)
        self.model, self.scale, self.stages = model, scale, stages_for(scale)
        self.schedule = schedule
        # each x2 stage widens the reach by the net's radius
        self.context = 0 if model is None else self.stages * model.temporal_radius
        if window <= 2 * self.context:
            raise ValueError(f"window {window} must exceed twice the temporal radius")
        self.max_window, self.steps, self.seed, self.device = window, steps, seed, device
        self.budget = max_memory_mb * 2**20
        self.window = window  # set from the first frame's size (`_size_window`)
        self._tile_budget = self.budget
        self._inputs: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []
        self._head = 0  # leading buffered inputs already emitted (left context only)
        self._hold = StaticHold()

    def push(
        self, frame: np.ndarray, guide: np.ndarray | None = None, mask: np.ndarray | None = None
    ) -> list[np.ndarray]:
        if self.model is None:
            h, w = frame.shape[:2]
            size = (w * self.scale, h * self.scale)
            return [cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)]
        if not self._inputs and self._head == 0:
            self._size_window(frame.shape[:2], guide is not None)
        self._inputs.append((frame, guide, mask))
        if len(self._inputs) < self.window:
            return []
        return self._emit(final=False)

    def flush(self) -> list[np.ndarray]:
        if self.model is None or len(self._inputs) == self._head:
            self._inputs, self._head = [], 0
            return []
        return self._emit(final=True)

    def _emit(self, final: bool) -> list[np.ndarray]:
        """Run the window; emit the frames whose temporal context was complete."""
        c = self.context
        results = self._run()
        stop = len(results) if final else len(results) - c
        out = [
            _to_uint8(self._hold(frame, results[i].permute(1, 2, 0).cpu().numpy() * 255.0))
            for i, (frame, _, _) in enumerate(self._inputs[:stop])
            if i >= self._head
        ]
        keep = 0 if final else 2 * c  # c emitted frames as left context + c still pending
        self._inputs = self._inputs[len(self._inputs) - keep :] if keep else []
        self._head = 0 if final else c
        if final:
            self._hold = StaticHold()
        return out

    def _size_window(self, shape: tuple[int, int], guided: bool) -> None:
        """Window length and tile budget for frames of `shape` (low-res h, w): the buffered
        full-resolution tensors of a window take at most half the budget, tiles the rest."""
        out_pixels = shape[0] * shape[1] * self.scale**2
        # result (3 x float32), the x4 cascade's middle stage, a guide as float and as uint8
        per_frame = out_pixels * (12 + (3 if self.stages > 1 else 0) + (15 if guided else 0))
        shortest = 2 * self.context + 2
        fits = int(self.budget // 2 // max(per_frame, 1))
        self.window = max(shortest, min(self.max_window, fits))
        self._tile_budget = max(self.budget - self.window * per_frame, self.budget // 4)

    def _run(self) -> torch.Tensor:
        """The cascade on the buffered window -> (T, 3, H, W) float32 in [0, 1]."""
        frames = [f for f, _, _ in self._inputs]
        guides = [g for _, g, _ in self._inputs]
        masks = [m for _, _, m in self._inputs]
        x = _to_tensor(frames).to(self.device)
        n = x.shape[0]
        for stage in range(self.stages):
            size = (x.shape[-1] * 2, x.shape[-2] * 2)
            guide = mask = None
            if all(g is not None for g in guides):
                guide = _to_tensor([_fit(g, size, cv2.INTER_AREA) for g in guides]).to(x.device)
                if all(m is not None for m in masks):
                    low = (size[0] // 2, size[1] // 2)
                    mask = torch.from_numpy(np.stack([_fit(m, low, cv2.INTER_AREA) for m in masks]))
                    mask = mask[:, None].float().to(x.device)
            x = self._stage(x, n, guide, mask, self.seed + stage)
        return x

    def _stage(
        self,
        x: torch.Tensor,
        n: int,
        guide: torch.Tensor | None,
        mask: torch.Tensor | None,
        seed: int,
    ) -> torch.Tensor:
        """One x2 stage, on tiles when the whole frame's activations exceed the tile budget."""
        h, w = x.shape[-2:]
        side = _tile_side(self._tile_budget, n)
        if h <= side and w <= side:
            return super_resolve(self.model, x, n, guide, mask, self.steps, seed, self.schedule)
        s = self.model.config.scale
        noise = None
        if self.model.config.diffusion:
            noise = sr_noise(seed, x.shape, s, x.device, x.dtype)
        out = x.new_empty((n, 3, h * s, w * s))
        for (y0, y1), (x0, x1) in [(ys, xs) for ys in _tiles(h, side) for xs in _tiles(w, side)]:
            ya, yb = max(0, y0 - TILE_MARGIN), min(h, y1 + TILE_MARGIN)
            xa, xb = max(0, x0 - TILE_MARGIN), min(w, x1 + TILE_MARGIN)
            low, high = (
                (slice(ya, yb), slice(xa, xb)),
                (slice(ya * s, yb * s), slice(xa * s, xb * s)),
            )
            part = super_resolve(
                self.model,
                x[..., low[0], low[1]],
                n,
                None if guide is None else guide[..., high[0], high[1]],
                None if mask is None else mask[..., low[0], low[1]],
                self.steps,
                seed,
                self.schedule,
                None
                if noise is None
                else (noise[0][..., high[0], high[1]], noise[1][..., low[0], low[1]]),
            )
            keep = (slice((y0 - ya) * s, (y1 - ya) * s), slice((x0 - xa) * s, (x1 - xa) * s))
            out[..., y0 * s : y1 * s, x0 * s : x1 * s] = part[..., keep[0], keep[1]]
        return out


def _tile_side(budget: float, frames: int) -> int:
    """The largest square tile (low-res pixels, margins included) whose activations fit."""
    return max(4 * TILE_MARGIN, int((budget / (ACTIVATION_BYTES * frames)) ** 0.5))


def _tiles(length: int, side: int) -> list[tuple[int, int]]:
    """[start, end) spans of near-equal length covering `length`, each with its margins
    within `side` (so a tile is at most `side` pixels wide)."""
    if length <= side:
        return [(0, length)]
    count = -(-length // max(side - 2 * TILE_MARGIN, 1))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _fit(image: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    return cv2.resize(image, size, interpolation=interpolation)


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)
