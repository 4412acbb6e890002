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

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from avatarvid.models.blocks import TemporalConv, TimestepEmbedder


def bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling (the baseline the network's residual is added to)."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


def area_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Box-filter downsampling by an integer factor (anti-aliased, exact inverse grid)."""
    return F.avg_pool2d(x, scale)


class SRBlock(nn.Module):
    """conv-ReLU-conv residual block (no normalisation: it blurs SR detail), a per-frame bias
    from the noise-level embedding, and optionally the shared identity-initialised temporal
    convolution. Temporal layers cost about two spatial convolutions each on a CPU, so only
    some blocks carry one."""

    def __init__(self, channels: int, temb_channels: int, temporal: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.temb = nn.Linear(temb_channels, channels)
        self.temporal = TemporalConv(channels) if temporal else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, num_frames: int) -> torch.Tensor:
        # In-place adds: each full-resolution temporary costs as much memory traffic as a conv.
        h = self.conv1(x)
        h += self.temb(temb)[:, :, None, None]
        y = self.conv2(F.relu_(h))
        y += x
        return y if self.temporal is None else self.temporal(y, num_frames)


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
        h = F.relu_(F.conv2d(x, weight, self.conv_in.bias, padding=1))
        for block in self.blocks:
            h = block(h, temb, num_frames)
        return F.pixel_shuffle(self.conv_out(h), cfg.scale).contiguous()
