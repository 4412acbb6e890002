"""SRNet: a small pseudo-3D network that predicts the residual over bicubic upsampling.

All convolutions run at the low resolution; the full-resolution inputs (the guide, the noisy
residual of the diffusion variant) are folded onto the low-resolution grid by pixel-unshuffle
and the output is unfolded by pixel-shuffle. The output convolution is zero-initialised, so an
untrained network returns exactly the bicubic upsampling (and the x0 prediction of the
diffusion variant is a zero residual).

Guidance: a full-resolution image aligned with the frame (the reference photo warped to the
frame's geometry) contributes two things on the low-resolution grid: its detail that bicubic
cannot restore (guide - bicubic(down(guide))) and its disagreement with the input
(lr - down(guide)), from which the network learns where the guide can be trusted. A mask
says where a guide exists at all.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from avatarvid.models.blocks import TemporalConv, TimestepEmbedder

# Low-res pixels per call of the per-frame layers in inference (one 256 x 256 frame: its
# activations, 6 MB a tensor, stay in this CPU's 32 MB L3).
CHUNK_PIXELS = 256 * 256


def bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling (the baseline the network's residual is added to), channels-last.

    In float32 on CPU without gradients by OpenCV: torch's kernel (a = -0.75, clamped
    borders), equal to float rounding, but 2.8x faster on channels-last frames (16 frames
    256 -> 512: 0.10 s against 0.28 s, one thread)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.requires_grad:
        out = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        return out.contiguous(memory_format=torch.channels_last)
    n, c, h, w = x.shape
    frames = x.permute(0, 2, 3, 1).numpy()
    out = np.empty((n, h * scale, w * scale, c), np.float32)
    for frame, dst in zip(frames, out, strict=True):
        cv2.resize(frame, (w * scale, h * scale), dst=dst, interpolation=cv2.INTER_CUBIC)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def area_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Box-filter downsampling by an integer factor (anti-aliased, exact inverse grid)."""
    return F.avg_pool2d(x, scale)


class SRBlock(nn.Module):
    """conv-ReLU-conv residual block (no normalisation: it blurs SR detail), a per-frame bias
    from the noise-level embedding, and optionally the shared identity-initialised temporal
    convolution (applied by `SRNet`, which runs the per-frame part in chunks of frames).
    Temporal layers cost about two spatial convolutions each on a CPU, so only some blocks
    carry one."""

    def __init__(self, channels: int, temb_channels: int, temporal: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.temb = nn.Linear(temb_channels, channels)
        self.temporal = TemporalConv(channels) if temporal else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """The per-frame part (without the temporal layer)."""
        # In-place adds: each full-resolution temporary costs as much memory traffic as a conv.
        h = self.conv1(x)
        h += self.temb(temb)[:, :, None, None]
        y = self.conv2(F.relu_(h))
        y += x
        return y


class SRNet(ModelMixin, ConfigMixin):
    """Residual-over-bicubic video SR, one pass (`diffusion=False`) or x0-predicting denoiser."""

    @register_to_config
    def __init__(
        self,
        scale: int = 2,
        channels: int = 24,
        num_blocks: int = 3,
        temporal_every: int = 2,
        guided: bool = True,
        diffusion: bool = False,
        temb_channels: int = 64,
        residual_scale: float = 8.0,
        num_train_timesteps: int = 1000,
    ):
        super().__init__()
        s2 = 3 * scale * scale
        in_ch = 3 + (s2 + 3 + 1 if guided else 0) + (s2 if diffusion else 0)
        self.conv_in = nn.Conv2d(in_ch, channels, 3, padding=1)
        self.time_embed = TimestepEmbedder(32, temb_channels)
        self.aug_embed = TimestepEmbedder(32, temb_channels)
        self.blocks = nn.ModuleList(
            SRBlock(channels, temb_channels, temporal=i % temporal_every == temporal_every - 1)
            for i in range(num_blocks)
        )
        self.conv_out = nn.Conv2d(channels, s2, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    @property
    def temporal_radius(self) -> int:
        """How many frames on each side one pass of the network can see."""
        return sum(
            b.temporal.conv.kernel_size[0] // 2 for b in self.blocks if b.temporal is not None
        )

    def guide_features(
        self, lr: torch.Tensor, guide: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """(N, 3*s*s + 4, h, w): guide detail and disagreement on the low-res grid, masked.
        Without a guide these channels would all be zero (`forward` skips them)."""
        s = self.config.scale
        n, _, h, w = lr.shape
        if mask is None:
            mask = lr.new_ones(n, 1, h, w)
        small = area_down(guide, s)
        detail = F.pixel_unshuffle(guide - bicubic(small, s), s)
        return torch.cat([detail * mask, (lr - small) * mask, mask], dim=1)

    def forward(
        self,
        lr: torch.Tensor,
        num_frames: int,
        guide: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        noisy: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        aug_level: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Residual (N, 3, s*h, s*w) to add to `bicubic(lr)`; frames are (batch*num_frames).

        lr: (N, 3, h, w) in [0, 1]. guide: (N, 3, s*h, s*w) in [0, 1] or None; mask
        (N, 1, h, w). Diffusion variant: `noisy` is the scaled noisy residual x_t at full
        resolution and `timestep` (N,) its step; `aug_level` (N,) is the noise-conditioning
        augmentation sigma that was added to `lr` (times 1000 for the embedding).
        """
        cfg = self.config
        n = lr.shape[0]
        parts = [lr - 0.5]
        weight = self.conv_in.weight
        if cfg.guided and guide is not None:
            parts.append(self.guide_features(lr, guide, mask))
        elif cfg.guided:  # all-zero guide channels: skip them instead of convolving zeros
            guide_channels = 3 * cfg.scale * cfg.scale + 4
            weight = torch.cat([weight[:, :3], weight[:, 3 + guide_channels :]], dim=1)
        if cfg.diffusion:
            if noisy is None or timestep is None:
                raise ValueError("the diffusion variant needs `noisy` and `timestep`")
            parts.append(F.pixel_unshuffle(noisy, cfg.scale))
        zeros = lr.new_zeros(n)
        t = timestep.to(lr.dtype).expand(n) if timestep is not None else zeros
        aug = aug_level.to(lr.dtype).expand(n) * 1000 if aug_level is not None else zeros
        temb = F.silu(self.time_embed(t) + self.aug_embed(aug))
        # channels_last: oneDNN's convolutions run about 2x faster on it than on NCHW here.
        x = torch.cat(parts, dim=1).contiguous(memory_format=torch.channels_last)
        # Inference runs the layers between temporal ones on a few frames at a time: oneDNN's
        # convolutions are 1.3x faster when a call's activations fit in cache (16 frames of
        # 256 x 256: 1.44 s against 1.88 s, one thread).
        chunk = n if torch.is_grad_enabled() else max(1, CHUNK_PIXELS // x[0, 0].numel())
        h, start = x, 0
        for i, block in enumerate(self.blocks):
            if block.temporal is not None:
                h = self._per_frame(h, temb, range(start, i + 1), weight, chunk, last=False)
                h = block.temporal(h, num_frames)
                start = i + 1
        h = self._per_frame(h, temb, range(start, len(self.blocks)), weight, chunk, last=True)
        return F.pixel_shuffle(h, cfg.scale)  # channels-last, as bicubic

    def _per_frame(
        self,
        h: torch.Tensor,
        temb: torch.Tensor,
        blocks: range,
        weight: torch.Tensor,
        chunk: int,
        last: bool,
    ) -> torch.Tensor:
        """The per-frame part of `blocks`, after conv_in (`weight`) if they start the net and
        followed by conv_out if `last`, `chunk` frames at a time."""
        parts = []
        for x, e in zip(h.split(chunk), temb.split(chunk), strict=True):
            if blocks.start == 0:
                x = F.relu_(F.conv2d(x, weight, self.conv_in.bias, padding=1))
            for i in blocks:
                x = self.blocks[i](x, e)
            if last:
                x = self.conv_out(x)
            parts.append(x)
        return parts[0] if len(parts) == 1 else torch.cat(parts)
