"""The pipelines' SR step. Torch and the SR models are imported only for modes that upscale,
so the default (`sr: none`) path starts without them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from avatarvid.config.settings import SR_STAGE_MEMORY_MB
from avatarvid.errors import InputError

if TYPE_CHECKING:
    import torch

SR_MODES = ("none", "bicubic", "fast", "diffusion")


class SRStage:
    """Frames rendered at `render_shape` -> `out_shape` frames.

    mode "none" passes frames through; "bicubic" resizes; "fast" / "diffusion" run the shipped
    cascade. Frames come out in order, possibly later than they go in (windowing).
    """

    def __init__(
        self,
        mode: str,
        scale: int,
        out_shape: tuple[int, int],
        steps: int = 4,
        device: torch.device | str = "cpu",
        max_memory_mb: int = SR_STAGE_MEMORY_MB,
    ):
        if mode not in SR_MODES:
            raise InputError(f"sr mode must be one of {', '.join(SR_MODES)}, got {mode!r}")
        self.scale = 1 if mode == "none" else scale
        h, w = out_shape
        self.out_shape = out_shape
        self.render_shape = (round(h / self.scale), round(w / self.scale))
        self._upscaler = None
        if mode != "none":
            from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, load_sr_schedule

            model = schedule = None
            if mode in ("fast", "diffusion"):
                model = load_sr_model(mode, device=device)
                schedule = load_sr_schedule(mode) if mode == "diffusion" else None
            self._upscaler = VideoUpscaler(
                model,
                scale,
                steps=steps,
                schedule=schedule,
                device=device,
                max_memory_mb=max_memory_mb,
            )

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """The full-resolution reference at the render resolution."""
        if self.scale == 1:
            return image
        h, w = self.render_shape
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        if self._upscaler is None:
            return [frame]
        return [self._fit(f) for f in self._upscaler.push(frame)]

    def flush(self) -> list[np.ndarray]:
        return [] if self._upscaler is None else [self._fit(f) for f in self._upscaler.flush()]

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        h, w = self.out_shape
        if frame.shape[:2] == (h, w):
            return frame
        return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
