"""The one-pass student of the diffusion renderer: it trains, and it samples in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import EXAMPLES

from avatarvid.cli import main
from avatarvid.models.renderer_unet import COND_CHANNELS, RendererUNet
from avatarvid.sampling.renderer import RendererSampling, WindowSampler
from avatarvid.sampling.schedulers import save_scheduler
from avatarvid.stages.refiner import load_renderer
from avatarvid.train.renderer import noise_scheduler
from avatarvid.train.renderer_distill import student_from

TINY = dict(block_channels=(8, 16), attention_levels=(False, True), heads=2, sample_size=24)


@pytest.fixture(scope="module")
def distilled(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny random teacher and `avatarvid train renderer-distill` of it on tiny clips: (run
    directory, exported student)."""
    root = tmp_path_factory.mktemp("distill")
    torch.manual_seed(0)
    teacher = RendererUNet(**TINY, residual_scale=10.0)
    teacher.save_pretrained(root / "teacher", safe_serialization=True)
    save_scheduler(noise_scheduler(), root / "teacher")
    data = dict(
        photos=[str(EXAMPLES / "astronaut.png")],
        heldout_photos=[str(EXAMPLES / "astronaut.png")],
        size=24,
        frames=4,
        clips_per_source=2,
        heldout_clips_per_source=1,
        output=str(root / "clips"),
        export=str(root / "unused"),
    )
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    cfg = dict(
        teacher=str(root / "teacher"),
        data=str(root / "data.yaml"),
        batch_clips=2,
        output=str(root / "work"),
        export=str(root / "student"),
        train=dict(steps=40, lr=3e-3, warmup=0, ema_decay=0, log_every=10, checkpoint_every=40),
    )
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "renderer-distill", "--config", str(root / "cfg.yaml")]) == 0
    return root / "work", root / "student"


def test_the_student_learns_its_teacher_and_is_scored(distilled):
    work, student = distilled
    losses = [json.loads(line)["loss"] for line in (work / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 4 and losses[-1] < 0.85 * losses[0]
    assert len(list(work.glob("teacher_2x4_*.npy"))) == 1  # the teacher's outputs, cached
    model, sched = load_renderer(student)
    assert model.config.distilled and sched["prediction_type"] == "v_prediction"
    metrics = json.loads((student / "metrics.json").read_text())["heldout"]
    assert set(metrics) == {"warp", "teacher_2x4", "teacher_2x1", "teacher_1x1", "student"}
    assert all(5 < m["psnr"] < 80 and 0 < m["ssim"] <= 1 for m in metrics.values())


def _frames_through(model: RendererUNet, sched: dict, settings: RendererSampling, seed: int):
    """(output, frames the network processed) for 8 frames in chunks of `settings.chunk`."""
    g = torch.Generator().manual_seed(1)
    warped = torch.rand(8, 3, 24, 24, generator=g) * 0.2 - 0.1
    cond = torch.rand(8, COND_CHANNELS, 24, 24, generator=g)
    seen = []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[:2].numel()))
    try:
        sampler = WindowSampler(
            model, sched, RendererSampling(**{**settings.__dict__, "seed": seed})
        )
        out = torch.cat([sampler.next_chunk(warped[a : a + 4], cond[a : a + 4]) for a in (0, 4)])
    finally:
        hook.remove()
    return out, sum(seen)


def test_a_distilled_checkpoint_runs_one_pass_per_frame_whatever_the_preset(distilled):
    model, sched = load_renderer(distilled[1])
    teacher = RendererUNet.from_config(model.config, distilled=False).eval()
    teacher.load_state_dict(model.state_dict())
    preset = RendererSampling(steps=2, samples=4, window=4, overlap=0, known=0, chunk=4)
    out, passes = _frames_through(model, sched, preset, seed=0)
    assert out.shape == (8, 3, 24, 24) and passes == 8
    assert _frames_through(teacher, sched, preset, seed=0)[1] == 8 * 2 * 4
    again, _ = _frames_through(model, sched, preset, seed=0)
    assert torch.equal(out, again)
    # No noise is drawn: another seed gives the same frames.
    assert torch.equal(out, _frames_through(model, sched, preset, seed=9)[0])


def test_student_from_copies_the_teacher_and_marks_it():
    torch.manual_seed(0)
    teacher = RendererUNet(**TINY)
    student = student_from(teacher)
    assert student.config.distilled and not teacher.config.distilled
    assert all(
        torch.equal(a, b)
        for a, b in zip(teacher.state_dict().values(), student.state_dict().values(), strict=True)
    )
