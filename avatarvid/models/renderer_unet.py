"""The renderer's denoiser: a small pseudo-3D U-Net in pixel space.

Conditions enter by channel concatenation, per frame: the warped reference (the largest
identity cue, VLOGGER's ablation), the rasterised control maps, normal maps of the target and
of the reference's surface at the target's positions (shading cues), and the reference image.
Concatenation costs one wider input convolution; reference attention would cost an extra
attention pass per block, which on a CPU is the dominant cost (`avatarvid study bench_renderer`).
Attention (spatial + temporal) only runs at the lowest resolutions, where it is cheap.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from einops import rearrange
from torch import nn

from avatarvid.models.blocks import (
    Downsample,
    ResBlockP3D,
    SpatialAttention,
    TemporalAttention,
    TimestepEmbedder,
    Upsample,
    norm_groups,
)

# warped reference (3) + control maps (3) + normal maps (3 + 3) + reference image (3)
COND_CHANNELS = 15


def box_unit(patch_size: int, levels: int) -> int:
    """What a face box's side must divide by: a pixel block per patch, halved at every level
    below the first."""
    return patch_size * 2 ** (levels - 1)


class _Level(nn.Module):
    """ResBlocks, each optionally followed by spatial then temporal attention."""

    def __init__(self, cin: int, cout: int, temb: int, layers: int, attention: bool, heads: int):
        super().__init__()
        self.res = nn.ModuleList(
            ResBlockP3D(cin if i == 0 else cout, cout, temb) for i in range(layers)
        )
        self.attn = nn.ModuleList(
            nn.ModuleList([SpatialAttention(cout, heads), TemporalAttention(cout, heads)])
            if attention
            else nn.ModuleList()
            for _ in range(layers)
        )

    def forward(self, x: torch.Tensor, temb: torch.Tensor, num_frames: int) -> torch.Tensor:
        for res, attn in zip(self.res, self.attn, strict=True):
            x = res(x, temb, num_frames)
            for a in attn:
                x = a(x, num_frames)
        return x


class RendererUNet(ModelMixin, ConfigMixin):
    """(batch, frames, 3, H, W) noisy frames + (batch, frames, 15, H, W) conditions -> 3-channel
    prediction (v or epsilon, per the scheduler's config).

    The diffused sample is the correction to the warped frame, `(frame - warped) *
    residual_scale`: zero means "the warp is right", so an untrained-on-this-face network
    starts from the warp, strength 0 is exactly the warp, and few training steps go a long way.
    `sample_size` is the side of the face box the model was trained at. `patch_size` p > 1
    runs the U-Net on p x p pixel blocks (pixel-unshuffled in, pixel-shuffled out): a 128 px
    box then costs about what 64 px costs, since all but the outer two convolutions work at
    the block grid. `distilled` marks a one-pass student (train/renderer_distill.py): it maps
    zero input at t = T to its teacher's averaged sample, and the sampler runs it once per frame
    from zeros instead of noise.
    """

    @register_to_config
    def __init__(
        self,
        sample_channels: int = 3,
        cond_channels: int = COND_CHANNELS,
        block_channels: tuple[int, ...] = (32, 64, 96),
        layers_per_block: int = 1,
        attention_levels: tuple[bool, ...] = (False, False, True),
        heads: int = 4,
        sample_size: int = 64,
        residual_scale: float = 4.0,
        distilled: bool = False,
        patch_size: int = 1,
    ):
        super().__init__()
        if len(attention_levels) != len(block_channels):
            raise ValueError("attention_levels needs one entry per block_channels entry")
        if sample_size % box_unit(patch_size, len(block_channels)):
            raise ValueError("sample_size must divide by patch_size * 2 ** (levels - 1)")
        c0, blocks = block_channels[0], patch_size**2
        temb = 4 * c0
        self.time = TimestepEmbedder(c0, temb)
        self.conv_in = nn.Conv2d((sample_channels + cond_channels) * blocks, c0, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsamplers = nn.ModuleList()
        prev = c0
        for i, (ch, attn) in enumerate(zip(block_channels, attention_levels, strict=True)):
            self.down.append(_Level(prev, ch, temb, layers_per_block, attn, heads))
            last = i == len(block_channels) - 1
            self.downsamplers.append(nn.Identity() if last else Downsample(ch))
            prev = ch
        self.mid = _Level(prev, prev, temb, 1, True, heads)
        self.up = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        levels = list(enumerate(zip(block_channels, attention_levels, strict=True)))
        for i, (ch, attn) in reversed(levels):
            self.up.append(_Level(prev + ch, ch, temb, layers_per_block, attn, heads))
            self.upsamplers.append(Upsample(ch) if i > 0 else nn.Identity())
            prev = ch
        self.norm_out = nn.GroupNorm(norm_groups(c0), c0)
        self.conv_out = nn.Conv2d(c0, sample_channels * blocks, 3, padding=1)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor | float, cond: torch.Tensor
    ) -> torch.Tensor:
        b, f = sample.shape[:2]
        x = rearrange(torch.cat([sample, cond], dim=2), "b f c h w -> (b f) c h w")
        x = F.pixel_unshuffle(x, self.config.patch_size)
        x = x.contiguous(memory_format=torch.channels_last)
        t = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(b)
        temb = self.time(t.repeat_interleave(f))
        x = self.conv_in(x)
        skips = []
        for level, down in zip(self.down, self.downsamplers, strict=True):
            x = level(x, temb, f)
            skips.append(x)
            x = down(x)
        x = self.mid(x, temb, f)
        for level, up in zip(self.up, self.upsamplers, strict=True):
            x = level(torch.cat([x, skips.pop()], dim=1), temb, f)
            x = up(x)
        x = F.pixel_shuffle(self.conv_out(F.silu(self.norm_out(x))), self.config.patch_size)
        return rearrange(x, "(b f) c h w -> b f c h w", b=b, f=f)
