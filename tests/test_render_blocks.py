"""Pseudo-3D blocks and the renderer U-Net: the temporal layers start as the identity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from avatarvid.models.blocks import (
    PseudoConv3d,
    ResBlockP3D,
    SpatialAttention,
    TemporalAttention,
    TemporalConv,
)
from avatarvid.models.renderer_unet import COND_CHANNELS, RendererUNet
from avatarvid.train.renderer import RendererTrainConfig, on_pixel_blocks

TINY = dict(block_channels=(8, 16), attention_levels=(False, True), heads=2)


def test_temporal_layers_start_as_identity():
    torch.manual_seed(0)
    x = torch.randn(2 * 5, 8, 6, 6)
    assert torch.equal(TemporalConv(8)(x, 5), x)
    assert torch.equal(TemporalAttention(8, 2)(x, 5), x)
    conv = PseudoConv3d(8, 8)
    assert torch.equal(conv(x, 5), conv.spatial(x))


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("channels_last", [True, False])
def test_temporal_conv_is_conv1d_over_frames_at_every_pixel(kernel, channels_last):
    """The per-frame matmuls equal make-a-video's conv1d over "(b h w) c f" (zero-padded at
    each clip's ends), values and gradients."""
    torch.manual_seed(0)
    b, f, c = 2, 5, 8
    layer = TemporalConv(c, kernel)
    torch.nn.init.normal_(layer.conv.weight, std=0.2)
    torch.nn.init.normal_(layer.conv.bias, std=0.2)
    x = torch.randn(b * f, c, 6, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    t = layer.conv(rearrange(x, "(b f) c h w -> (b h w) c f", b=b, f=f))
    expected = x + rearrange(t, "(b h w) c f -> (b f) c h w", b=b, h=6, w=7)
    out = layer(x, f)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    grads = torch.autograd.grad(out.square().sum(), [x, layer.conv.weight])
    want = torch.autograd.grad(expected.square().sum(), [x, layer.conv.weight])
    for got, ref in zip(grads, want, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-4)


def test_blocks_equal_their_per_frame_version_until_trained():
    torch.manual_seed(0)
    x, temb = torch.randn(2 * 4, 8, 6, 6), torch.randn(2 * 4, 16)
    block = ResBlockP3D(8, 16, 16)
    attn = SpatialAttention(16, 2)

    whole = attn(block(x, temb, 4), 4)
    alone = torch.cat([attn(block(x[i : i + 1], temb[i : i + 1], 1), 1) for i in range(8)])
    torch.testing.assert_close(whole, alone, rtol=0, atol=1e-5)
    # The invariant is not vacuous: a trained temporal layer mixes frames.
    torch.nn.init.normal_(block.conv1.temporal.conv.weight, std=0.1)
    alone = torch.cat([block(x[i : i + 1], temb[i : i + 1], 1) for i in range(8)])
    assert (block(x, temb, 4) - alone).abs().max() > 1e-3


@pytest.mark.parametrize("patch_size", [1, 2])
def test_unet_is_per_frame_2d_at_init_and_not_after_temporal_training(patch_size):
    torch.manual_seed(0)
    model = RendererUNet(**TINY, patch_size=patch_size).eval()
    x, cond = torch.randn(2, 4, 3, 16, 16), torch.randn(2, 4, COND_CHANNELS, 16, 16)
    t = torch.tensor([10, 900])
    with torch.no_grad():
        clip = model(x, t, cond)
        frames = torch.cat([model(x[:, i : i + 1], t, cond[:, i : i + 1]) for i in range(4)], 1)
        assert clip.shape == (2, 4, 3, 16, 16)
        torch.testing.assert_close(clip, frames, rtol=0, atol=1e-5)
        for name, p in model.named_parameters():
            if "temporal" in name:
                p.add_(0.05 * torch.randn_like(p))
        assert (model(x, t, cond) - frames).abs().max() > 1e-3


def test_pixel_block_network_starts_as_the_pixel_one_on_the_reduced_box():
    """on_pixel_blocks: the patch-2 network at 32 px = the patch-1 one on the area-reduced
    16 px box, its output repeated over each 2x2 block."""
    torch.manual_seed(0)
    pixels = RendererUNet(**TINY, sample_size=16).eval()
    for p in pixels.parameters():
        torch.nn.init.normal_(p, std=0.2)
    blocks = RendererUNet(**TINY, sample_size=32, patch_size=2).eval()
    blocks.load_state_dict(on_pixel_blocks(pixels.state_dict(), 2))
    x, cond = torch.randn(1, 3, 3, 32, 32), torch.randn(1, 3, COND_CHANNELS, 32, 32)

    def reduced(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t.flatten(0, 1), 2).unflatten(0, t.shape[:2])

    with torch.no_grad():
        small = pixels(reduced(x), 500, reduced(cond))
        out = blocks(x, 500, cond)
    assert out.shape == x.shape
    repeated = small.repeat_interleave(2, dim=-1).repeat_interleave(2, dim=-2)
    torch.testing.assert_close(out, repeated, rtol=0, atol=1e-5)
    assert small.abs().mean() > 0.05  # not a vacuous match of two near-zero outputs
    with pytest.raises(ValueError, match="sample_size"):
        RendererUNet(**TINY, sample_size=18, patch_size=2)
    with pytest.raises(ValueError, match="size must divide"):
        RendererTrainConfig(photos=["a.jpg"], size=130, patch_size=2, output="o", export="e")


def test_unet_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = RendererUNet(**TINY).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    again = RendererUNet.from_pretrained(tmp_path).eval()
    x, cond = torch.randn(1, 3, 3, 16, 16), torch.randn(1, 3, COND_CHANNELS, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x, 5, cond), again(x, 5, cond))
