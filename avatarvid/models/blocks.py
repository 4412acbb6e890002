"""Pseudo-3D (Make-A-Video style) building blocks for video networks on frame batches.

Stable API (the diffusion renderer and the temporal super-resolution network both use it):

* Tensors are frame batches ``(batch * frames, C, H, W)``; every block's ``forward`` takes
  ``num_frames`` so it can fold frames into a time axis where it needs one (einops).
* ``TemporalConv``, ``PseudoConv3d``, ``SpatialAttention``, ``TemporalAttention``, ``norm_groups``,
  ``ResBlockP3D``, ``Downsample``, ``Upsample``, ``TimestepEmbedder``.
* Temporal layers are residual with a zero-initialised output, so a freshly built network is
  exactly its per-frame 2D version; it can be trained on images first and on clips later.
  With ``num_frames == 1`` the temporal layers are skipped (image mode, no padding effects).

Everything is per-frame except the temporal layers (GroupNorm is applied per frame), which is
what makes the identity invariant exact rather than approximate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import TimestepEmbedding, Timesteps, get_timestep_embedding
from einops import rearrange
from torch import nn

from avatarvid.models.attention import attention


def norm_groups(channels: int) -> int:
    """Largest of 32, 16, 8, ... that divides `channels` (GroupNorm needs a divisor)."""
    g = 32
    while channels % g:
        g //= 2
    return g


class TemporalConv(nn.Module):
    """x + conv1d over frames at every pixel; zero-initialised, so it starts as the identity.

    The conv1d of make-a-video (`"(b f) c h w -> (b h w) c f"`) computed as one matmul per frame
    and tap on the channels-last memory the networks here run in: no rearranged copies, and
    each product stays in cache. On this CPU that is 4x faster than `nn.Conv1d` over the
    rearranged tensor (16 frames of 24 x 256 x 256: 0.13 s against 0.59 s, one thread).
    """

    def __init__(self, channels: int, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        if num_frames == 1:
            return x
        n, c, h, w = x.shape
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view when x is channels_last
        out = pixels + self.conv.bias
        taps = self.conv.weight.permute(2, 1, 0)  # (tap, in, out)
        radius = len(taps) // 2
        for i in range(n):
            f = i % num_frames
            for tap, weight in enumerate(taps):
                j = f + tap - radius  # the neighbour's index within this clip
                if 0 <= j < num_frames:
                    out[i].addmm_(pixels[i - f + j], weight)
        return out.view(n, h, w, c).permute(0, 3, 1, 2)


class PseudoConv3d(nn.Module):
    """A 2D spatial convolution followed by a 1D temporal one (factorised 3D convolution)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3):
        super().__init__()
        self.spatial = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)
        self.temporal = TemporalConv(out_channels)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        return self.temporal(self.spatial(x), num_frames)


class SpatialAttention(nn.Module):
    """Self-attention over the pixels of each frame (`attention`: fused kernels where available)."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(norm_groups(channels), channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        h, w = x.shape[-2:]
        tokens = rearrange(self.norm(x), "n c h w -> n (h w) c")
        q, k, v = rearrange(self.qkv(tokens), "n l (k m d) -> k n m l d", k=3, m=self.heads)
        a = attention(q, k, v)
        a = self.out(rearrange(a, "n m l d -> n l (m d)"))
        return x + rearrange(a, "n (h w) c -> n c h w", h=h, w=w)


class TemporalAttention(nn.Module):
    """Self-attention over frames at every pixel, with sinusoidal frame positions.

    The output projection is zero-initialised: the block starts as the identity.
    """

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        if num_frames == 1:
            return x
        b = x.shape[0] // num_frames
        c, h, w = x.shape[-3:]
        tokens = rearrange(x, "(b f) c h w -> (b h w) f c", b=b, f=num_frames)
        pos = get_timestep_embedding(torch.arange(num_frames, device=x.device), c)
        q, k, v = rearrange(
            self.qkv(self.norm(tokens) + pos.to(x.dtype)),
            "n l (k m d) -> k n m l d",
            k=3,
            m=self.heads,
        )
        a = attention(q, k, v)
        a = self.out(rearrange(a, "n m l d -> n l (m d)"))
        return x + rearrange(a, "(b h w) f c -> (b f) c h w", b=b, h=h, w=w)


class ResBlockP3D(nn.Module):
    """Residual block of two pseudo-3D convolutions with an additive timestep embedding."""

    def __init__(self, in_channels: int, out_channels: int, temb_channels: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(norm_groups(in_channels), in_channels)
        self.conv1 = PseudoConv3d(in_channels, out_channels)
        self.temb = nn.Linear(temb_channels, out_channels)
        self.norm2 = nn.GroupNorm(norm_groups(out_channels), out_channels)
        self.conv2 = PseudoConv3d(out_channels, out_channels)
        self.skip = (
            nn.Conv2d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor, temb: torch.Tensor, num_frames: int) -> torch.Tensor:
        """`temb` is (batch * frames, temb_channels): one embedding per frame."""
        h = self.conv1(F.silu(self.norm1(x)), num_frames)
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)), num_frames)
        return self.skip(x) + h


class Downsample(nn.Module):
    """Strided 3x3 convolution: half the resolution, per frame."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest 2x upsampling then a 3x3 convolution, per frame."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TimestepEmbedder(nn.Module):
    """diffusers' sinusoidal `Timesteps` + MLP `TimestepEmbedding`: (N,) -> (N, dim)."""

    def __init__(self, base_channels: int, dim: int):
        super().__init__()
        self.proj = Timesteps(base_channels, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.mlp = TimestepEmbedding(base_channels, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.proj(t).to(self.mlp.linear_1.weight.dtype))
