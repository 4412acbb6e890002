"""Pseudo-3D blocks and the renderer U-Net: the temporal layers start as the identity."""

from __future__ import annotations

import torch

from avatarvid.models.blocks import (
    PseudoConv3d,
    ResBlockP3D,
    SpatialAttention,
    TemporalAttention,
    TemporalConv,
)
from avatarvid.models.renderer_unet import COND_CHANNELS, RendererUNet

TINY = dict(block_channels=(8, 16), attention_levels=(False, True), heads=2)


def test_temporal_layers_start_as_identity():
    torch.manual_seed(0)
    x = torch.randn(2 * 5, 8, 6, 6)
    assert torch.equal(TemporalConv(8)(x, 5), x)
    assert torch.equal(TemporalAttention(8, 2)(x, 5), x)
    conv = PseudoConv3d(8, 8)
    assert torch.equal(conv(x, 5), conv.spatial(x))


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


def test_unet_is_per_frame_2d_at_init_and_not_after_temporal_training():
    torch.manual_seed(0)
    model = RendererUNet(**TINY).eval()
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


def test_unet_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = RendererUNet(**TINY).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    again = RendererUNet.from_pretrained(tmp_path).eval()
    x, cond = torch.randn(1, 3, 3, 16, 16), torch.randn(1, 3, COND_CHANNELS, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x, 5, cond), again(x, 5, cond))
