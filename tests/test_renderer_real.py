"""The diffusion renderer on real-video clips: the builder's arrays, the config, and a tiny
renderer that overfits two short clips far below the warp's error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from avatarvid.cli import main
from avatarvid.data.lighting import Relighter
from avatarvid.data.renderer_clips import ClipSet, make_real_clips
from avatarvid.errors import InputError
from avatarvid.evaluate.renderer import render_clips
from avatarvid.media.video import VideoWriter
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.sampling.renderer import RendererSampling
from avatarvid.train.config import load_train_config
from avatarvid.train.loop import Context
from avatarvid.train.renderer import RendererTask, RendererTrainConfig
from avatarvid.warp.face import FaceWarper

FPS = 8.0  # the reference is >= 2 s (16 frames) from its clip
FRAMES = 4
SIZE = 24
STEPS = 700


def _talking_clip(folder: Path, name: str, photo: np.ndarray, landmarks: np.ndarray, phase: float):
    """A tracked clip in `avatarvid data clips` form (.mp4 + .npz with landmarks and fps): the
    photo moved by the rig and relit for its geometry, so the warp of one of its frames onto
    another misses the change of shading (and the truth is known exactly)."""
    n = 40
    t = np.arange(n) / FPS
    motion = np.zeros((n, MOTION_LAYOUT.dim), np.float32)
    motion[:, MOTION_LAYOUT.index("head_yaw")] = 0.3 * np.sin(2 * np.pi * t / 2.5 + phase)
    motion[:, MOTION_LAYOUT.index("jaw_open")] = 0.4 * (1 - np.cos(2 * np.pi * t / 0.9))
    rig, warper = FaceRig(landmarks), FaceWarper(photo, landmarks)
    light = Relighter(landmarks, photo.shape[:2])
    marks = rig.landmarks(motion)
    height, width = photo.shape[:2]
    with VideoWriter(folder / f"{name}.mp4", FPS, width, height, crf=12) as out:
        for lm in marks:
            out.write(light.apply(warper.render(lm), lm))
    np.savez(folder / f"{name}.npz", landmarks=marks.astype(np.float32), fps=np.float32(FPS))
    return folder / f"{name}.npz"


@pytest.fixture(scope="module")
def real_tracks(tmp_path_factory, astronaut, astronaut_landmarks) -> list[Path]:
    folder = tmp_path_factory.mktemp("real")
    return [
        _talking_clip(folder, f"clip{k}", astronaut, astronaut_landmarks, phase)
        for k, phase in enumerate((0.0, 2.0))
    ]


def test_real_clips_hold_real_frames_and_the_warp_of_a_far_frame(real_tracks):
    clips = make_real_clips(real_tracks[0], (0.0, 1.0), 3, FRAMES, SIZE, seed=0, augment=False)
    assert clips.gt.shape == (3, FRAMES, SIZE, SIZE, 3)
    assert clips.reference.shape == (3, SIZE, SIZE, 3)
    for k in ("warped", "controls", "normals", "reference_normals"):
        assert getattr(clips, k).shape == clips.gt.shape and getattr(clips, k).dtype == np.uint8
    y0, y1, x0, x1 = clips.mouth.T
    assert np.all((y0 >= 0) & (y0 < y1) & (y1 <= SIZE) & (x0 >= 0) & (x0 < x1) & (x1 <= SIZE))
    error = np.abs(clips.gt.astype(float) - clips.warped.astype(float)).mean()
    assert 1.0 < error < 40.0  # the warp is close to the truth but not it


def test_a_span_too_short_for_the_reference_gap_is_one_error(real_tracks):
    with pytest.raises(InputError, match="too short"):
        make_real_clips(real_tracks[0], (0.0, 0.4), 1, FRAMES, SIZE, seed=0)


def test_config_takes_photos_or_real_clips_not_both(tmp_path, real_tracks, capsys):
    cfg = {"output": str(tmp_path / "w"), "export": str(tmp_path / "e")}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "renderer", "--config", str(path)]) != 0
    assert "either photos or real_train" in capsys.readouterr().err
    cfg["real_train"] = [{"tracks": str(real_tracks[0]), "end": 0.8}]
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_train_config(path, RendererTrainConfig)
    assert loaded.real_train[0].end == 0.8 and loaded.photos == []


def test_tiny_renderer_overfits_two_tracked_clips_below_the_warp(tmp_path, real_tracks):
    torch.manual_seed(0)
    cfg = RendererTrainConfig(
        real_train=[{"tracks": p} for p in real_tracks],
        output=tmp_path / "work",
        export=tmp_path / "out",
        size=SIZE,
        frames=FRAMES,
        clips_per_source=1,
        block_channels=[16, 32],
        attention_levels=[False, True],
        heads=2,
        residual_scale=10.0,
        stage1_steps=0,
        batch_clips=2,
        cond_dropout=0.0,
    )
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    ctx = Context(0, 1, torch.device("cpu"), rng, generator)
    task = RendererTask(cfg, ctx)
    model = task.model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    clips: ClipSet = task.clips
    settings = RendererSampling(steps=1, samples=1, window=FRAMES, chunk=FRAMES, overlap=0, known=0)
    schedule = dict(task.noise_scheduler.config)
    gt = clips.gt.astype(float)
    warp = np.mean((clips.warped - gt) ** 2)
    errors = []
    for step in range(STEPS):
        loss, _ = task.loss(model, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % (STEPS // 4) == 0:
            out = render_clips(model.eval(), schedule, clips, settings)
            model.train()
            errors.append(np.mean((out - gt) ** 2) / warp)
    print("error / warp error", errors)
    assert errors[-1] < 0.6 and errors[-1] < errors[0]
