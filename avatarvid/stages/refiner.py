"""Diffusion refinement of warped frames: face box in, refined face box pasted back out.

The network works on a small face box (pixel space, `model.config.sample_size`); only its
change to the warped frame is upsampled and added back, with a feathered edge, so the warp's
full-resolution detail is kept and strength 0 returns the warp bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import torch

from avatarvid.errors import InputError
from avatarvid.models.renderer_unet import RendererUNet
from avatarvid.sampling.renderer import RendererSampling, WindowSampler
from avatarvid.sampling.schedulers import SCHEDULER_FILE, load_scheduler
from avatarvid.warp.controls import box_affine, crop, draw_controls, face_box
from avatarvid.warp.normals import FaceNormals


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float32 in [-1, 1]."""
    t = torch.from_numpy(np.array(images, dtype=np.float32)) / 127.5 - 1.0
    return t.movedim(-1, -3)


def condition(
    warped: np.ndarray,
    controls: np.ndarray,
    normals: np.ndarray,
    reference_normals: np.ndarray,
    reference: np.ndarray,
) -> torch.Tensor:
    """(F, 15, S, S) conditions from (F, S, S, 3) warped crops, control maps, normal maps of
    the target and of the reference's surface at the target's positions (their difference is
    the change of shading the warp cannot make), and one (S, S, 3) reference crop."""
    maps = (warped, controls, normals, reference_normals, np.broadcast_to(reference, warped.shape))
    return torch.cat([to_tensor(m) for m in maps], dim=1)


def load_renderer(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[RendererUNet, Mapping]:
    """The model (eval mode, on `device`) and its training noise schedule (scheduler config),
    from a save_pretrained directory."""
    path = Path(path)
    if not (path / "config.json").is_file() or not (path / SCHEDULER_FILE).is_file():
        raise InputError(
            f"no diffusion renderer checkpoint in {path}; build one with "
            "scripts/build_renderer.sh or pass --renderer warp"
        )
    model = RendererUNet.from_pretrained(path).to(device).eval()
    return model, load_scheduler(path).config


class DiffusionRefiner:
    """Refines a stream of warped full frames of one reference photo."""

    def __init__(
        self,
        model: RendererUNet,
        schedule: Mapping,
        settings: RendererSampling,
        image: np.ndarray,
        landmarks: np.ndarray,
        device: torch.device | str = "cpu",
    ):
        """`schedule`: the model's training scheduler config (from `load_renderer`)."""
        self.size = int(model.config.sample_size)
        self.box = face_box(landmarks)
        self.settings = settings
        self.sampler = WindowSampler(model.to(device), schedule, settings)
        self.reference = crop(image, self.box, self.size)
        self.mesh = FaceNormals(landmarks)
        self.reference_normals = self.mesh.vertex_normals(landmarks)
        h, w = image.shape[:2]
        self.shape = (h, w)
        self.back = cv2.invertAffineTransform(box_affine(self.box, self.size))
        ramp = np.minimum(np.arange(self.size) + 0.5, self.size - 0.5 - np.arange(self.size))
        edge = np.clip(ramp / (0.12 * self.size), 0, 1)
        feather = np.outer(edge, edge).astype(np.float32)
        self.mask = cv2.warpAffine(feather, self.back, (w, h), flags=cv2.INTER_LINEAR)[..., None]
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._started = False

    def push(self, full: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
        """Adds one warped full frame and its target landmarks; returns the frames whose chunk
        is complete (in order), usually none."""
        self._pending.append((full, crop(full, self.box, self.size), target))
        need = self.settings.chunk - (self.settings.known if self._started else 0)
        return self._run() if len(self._pending) >= need else []

    def flush(self) -> list[np.ndarray]:
        """The remaining frames (a last, shorter chunk)."""
        return self._run() if self._pending else []

    def _run(self) -> list[np.ndarray]:
        fulls, crops, targets = zip(*self._pending, strict=True)
        self._pending, self._started = [], True
        warped = np.stack(crops)
        maps = np.stack([draw_controls(t, self.box, self.size) for t in targets])
        pairs = [
            self.mesh.target_and_reference_maps(t, self.reference_normals, self.box, self.size)
            for t in targets
        ]
        normals, ref_normals = (np.stack(p) for p in zip(*pairs, strict=True))
        cond = condition(warped, maps, normals, ref_normals, self.reference)
        out = self.sampler.next_chunk(to_tensor(warped), cond)
        change = (out.movedim(1, -1).cpu().numpy() + 1.0) * 127.5 - warped
        h, w = self.shape
        result = []
        for full, delta in zip(fulls, change, strict=True):
            up = cv2.warpAffine(delta.astype(np.float32), self.back, (w, h), flags=cv2.INTER_CUBIC)
            result.append(np.clip(full + self.mask * up, 0, 255).round().astype(np.uint8))
        return result
