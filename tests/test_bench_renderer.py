"""The renderer benchmark's FLOP count: 2 FLOPs per multiply-add, as the ~55 GFLOP/s floor is
stated, and the network's count grows with the box's pixels."""

from __future__ import annotations

import torch

from avatarvid.evaluate.studies.bench_renderer import flops
from avatarvid.models.renderer_unet import COND_CHANNELS, RendererUNet


def test_a_convolution_counts_two_flops_per_multiply_add():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.zeros(1, 3, 16, 16)
    assert flops(lambda: conv(x)) == 2 * 3 * 8 * 9 * 16 * 16


def test_renderer_flops_grow_with_the_box_unless_it_runs_on_pixel_blocks():
    torch.manual_seed(0)
    per_frame = {}
    for size, patch in ((32, 1), (64, 1), (64, 2)):
        net = RendererUNet(block_channels=(8, 16, 32), sample_size=size, patch_size=patch).eval()
        x, cond = torch.zeros(1, 2, 3, size, size), torch.zeros(1, 2, COND_CHANNELS, size, size)
        with torch.no_grad():
            per_frame[size, patch] = flops(lambda: net(x, torch.tensor([10]), cond)) / 2  # noqa: B023
    # convolutions scale with the pixels (x4), attention faster, the timestep MLP not at all
    assert 3.9 < per_frame[64, 1] / per_frame[32, 1] < 6.0
    # on 2x2 blocks only the outer two convolutions see 4x the channels
    assert 1.0 < per_frame[64, 2] / per_frame[32, 1] < 1.3
