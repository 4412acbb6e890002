"""Stream a video through the SR cascade in windows (memory flat in length).

Frames are pushed one at a time; every `window` frames the cascade (x2 per stage) runs on the
window. A frame's output depends on its neighbours only within the cascade's temporal radius
r (one frame per temporal layer and stage), so consecutive windows share 2r frames and each window
keeps only the frames that had r real neighbours on both sides: for the one-pass network the
stream equals processing the whole video at once, so window boundaries cannot show. (The
diffusion variant's steps widen its reach and its noise is drawn per window: there it is an
approximation.) A larger window wastes fewer frames on context; 16 keeps memory small.
Emitted frames pass, in order, through a motion-adaptive temporal hold (`temporal.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import torch

from avatarvid.assets import checkpoint_path
from avatarvid.errors import CheckpointError, InputError
from avatarvid.models.sr_net import SRNet
from avatarvid.sampling.schedulers import load_scheduler
from avatarvid.sampling.sr import super_resolve
from avatarvid.stages.sr_temporal import StaticHold

SCALES = (2, 4)


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
    ):
        """`schedule`: the diffusion variant's scheduler config (`load_sr_schedule`)."""
        model = None if model is None else model.to(device)
        self.model, self.scale, self.stages = model, scale, stages_for(scale)
        self.schedule = schedule
        # each x2 stage widens the reach by the net's radius
        self.context = 0 if model is None else self.stages * model.temporal_radius
        if window <= 2 * self.context:
            raise ValueError(f"window {window} must exceed twice the temporal radius")
        self.window, self.steps, self.seed, self.device = window, steps, seed, device
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
            _to_uint8(self._hold(frame, result))
            for (frame, _, _), result in zip(
                self._inputs[self._head : stop], results[self._head : stop], strict=True
            )
        ]
        keep = 0 if final else 2 * c  # c emitted frames as left context + c still pending
        self._inputs = self._inputs[len(self._inputs) - keep :] if keep else []
        self._head = 0 if final else c
        if final:
            self._hold = StaticHold()
        return out

    def _run(self) -> np.ndarray:
        """The cascade on the buffered window -> (T, H, W, 3) float32 in [0, 255]."""
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
            x = super_resolve(
                self.model, x, n, guide, mask, self.steps, self.seed + stage, self.schedule
            )
        return x.permute(0, 2, 3, 1).cpu().numpy() * 255.0


def _fit(image: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    return cv2.resize(image, size, interpolation=interpolation)


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)
