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
from avatarvid.data.renderer_clips import CameraAugment, ClipSet, make_real_clips
from avatarvid.errors import InputError
from avatarvid.evaluate.renderer import render_clips
from avatarvid.media.video import VideoWriter
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.sampling.renderer import RendererSampling
from avatarvid.train.config import load_train_config
from avatarvid.train.loop import Context
from avatarvid.train.renderer import (
    RendererTask,
    RendererTrainConfig,
    clip_sets,
    training_batch,
)
from avatarvid.warp.controls import face_box
from avatarvid.warp.face import FaceWarper
from avatarvid.warp.normals import FaceNormals

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


def test_config_needs_photos_or_real_clips(tmp_path, real_tracks, capsys):
    cfg = {"output": str(tmp_path / "w"), "export": str(tmp_path / "e")}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "renderer", "--config", str(path)]) != 0
    assert "give photos, real_train or both" in capsys.readouterr().err
    cfg["real_train"] = [{"tracks": str(real_tracks[0]), "end": 0.8}]
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_train_config(path, RendererTrainConfig)
    assert loaded.real_train[0].end == 0.8 and loaded.photos == []


def test_photo_clips_are_added_to_the_real_training_clips(tmp_path, real_tracks, astronaut_path):
    cfg = RendererTrainConfig(
        real_train=[{"tracks": real_tracks[0]}],
        photos=[str(astronaut_path)],
        mixed_photo_clips=3,
        clips_per_source=2,
        output=tmp_path / "work",
        export=tmp_path / "out",
        size=SIZE,
        frames=FRAMES,
    )
    train = clip_sets(cfg)["train"]
    real = make_real_clips(real_tracks[0], (0.0, 1.0), 2, FRAMES, SIZE, seed=0, augment=True)
    assert train.gt.shape == (2 + 3, FRAMES, SIZE, SIZE, 3)
    np.testing.assert_array_equal(train.gt[:2], real.gt)  # the real clips first, as built alone
    assert (tmp_path / "work" / f"train_{SIZE}_{FRAMES}.npz").is_file()  # cached for the run


@pytest.mark.parametrize("objective", ["diffusion", "one_pass"])
def test_tiny_renderer_overfits_two_tracked_clips_below_the_warp(tmp_path, real_tracks, objective):
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
        objective=objective,
    )
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    ctx = Context(0, 1, torch.device("cpu"), rng, generator)
    task = RendererTask(cfg, ctx)
    model = task.model.train()
    assert model.config.distilled == (objective == "one_pass")  # the sampler runs it in one pass
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    clips: ClipSet = task.clips
    settings = RendererSampling(steps=1, samples=1, window=FRAMES, chunk=FRAMES, overlap=0, known=0)
    schedule = dict(task.noise_scheduler.config)
    gt = clips.gt.astype(float)
    warp = np.mean((clips.warped - gt) ** 2)
    steps = STEPS if objective == "diffusion" else STEPS // 4  # one pass fits much faster
    errors = []
    for step in range(steps):
        loss, _ = task.loss(model, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % (steps // 4) == 0:
            out = render_clips(model.eval(), schedule, clips, settings)
            model.train()
            errors.append(np.mean((out - gt) ** 2) / warp)
    print("error / warp error", errors)
    assert errors[-1] < 0.6 and errors[-1] < errors[0]


def _one_clip(rng: np.random.Generator, size: int = 32) -> dict[str, np.ndarray]:
    """A clip's arrays as `CameraAugment` takes them: 2 frames, smooth images, normal maps with
    a face region (non-zero) in the left half."""
    ys, xs = np.mgrid[0:size, 0:size]
    image = np.stack([xs * 6, ys * 6, (xs + ys) * 3], axis=-1).clip(20, 235).astype(np.uint8)
    frames = np.stack([image, image[::-1]])
    normals = np.zeros_like(frames)
    normals[:, :, : size // 2] = rng.integers(1, 255, (2, size, size // 2, 3), dtype=np.uint8)
    return {
        "gt": frames,
        "warped": frames.copy(),
        "controls": frames[..., ::-1].copy(),
        "normals": normals,
        "reference_normals": normals.copy(),
        "reference": image,
    }


def test_camera_mirror_turns_every_map_and_the_normals_x():
    rng = np.random.default_rng(0)
    clip = _one_clip(rng)
    mirror = CameraAugment(flip=1.0, gain=0.0, gamma=1.0, saturation=(1.0, 1.0), blur=0.0)
    out = mirror(rng, clip)
    for k in ("gt", "warped", "controls", "reference"):
        assert np.abs(out[k].astype(int) - clip[k][..., ::-1, :]).max() <= 1, k
    flipped = clip["normals"][..., ::-1, :]
    face = flipped.any(axis=-1)
    assert np.array_equal(out["normals"][..., 0][face], 255 - flipped[..., 0][face])
    assert not out["normals"][~face].any()  # off the face stays 0
    assert np.array_equal(out["normals"][..., 1:], flipped[..., 1:])


def test_mirrored_normal_maps_are_the_maps_of_the_mirrored_face(astronaut, astronaut_landmarks):
    """The mirror of a face's normal map, x negated, is the map the mirrored face draws."""
    size = 64
    width = astronaut.shape[1]
    mirrored = astronaut_landmarks.copy()
    mirrored[:, 0] = width - mirrored[:, 0]
    maps = []
    for lm in (astronaut_landmarks, mirrored):
        mesh = FaceNormals(lm)
        maps.append(mesh.normal_map(lm, mesh.vertex_normals(lm), face_box(lm), size))
    turned = CameraAugment(flip=1.0, gain=0.0, gamma=1.0, saturation=(1.0, 1.0), blur=0.0)(
        np.random.default_rng(0),
        {
            "normals": maps[0][None],
            "reference_normals": maps[0][None],
            "gt": maps[0][None],
            "warped": maps[0][None],
            "reference": maps[0],
        },
    )["normals"][0]
    both = turned.any(axis=-1) & maps[1].any(axis=-1)
    assert both.mean() > 0.2
    assert (turned.any(axis=-1) != maps[1].any(axis=-1)).mean() < 0.01
    assert np.abs(turned[both].astype(int) - maps[1][both]).mean() < 2.0


def test_camera_changes_truth_and_inputs_alike_and_leaves_the_maps():
    rng = np.random.default_rng(1)
    clip = _one_clip(rng)
    camera = CameraAugment(flip=0.0, blur=1.0, downscale=(3.0, 3.0))
    out = camera(rng, clip)
    assert np.array_equal(out["gt"], out["warped"])  # the same change: the residual stays 0
    assert np.array_equal(out["reference"], out["gt"][0])
    assert np.abs(out["gt"].astype(int) - clip["gt"]).mean() > 3.0
    for k in ("controls", "normals", "reference_normals"):
        assert np.array_equal(out[k], clip[k]), k
    sharp = np.abs(np.diff(clip["normals"][..., 0].astype(int), axis=-1)).mean()
    blurred = camera(rng, {**clip, "gt": clip["normals"]})["gt"]
    assert np.abs(np.diff(blurred[..., 0].astype(int), axis=-1)).mean() < 0.6 * sharp


def test_online_augment_keeps_the_clips_plain_and_changes_every_batch(tmp_path, real_tracks):
    cfg = RendererTrainConfig(
        real_train=[{"tracks": real_tracks[0]}],
        output=tmp_path / "work",
        export=tmp_path / "out",
        size=SIZE,
        frames=FRAMES,
        clips_per_source=2,
        block_channels=[8, 16],
        attention_levels=[False, False],
        heads=2,
        online_augment=True,
    )
    ctx = Context(0, 1, torch.device("cpu"), np.random.default_rng(0), torch.Generator())
    task = RendererTask(cfg, ctx)
    plain = make_real_clips(real_tracks[0], (0.0, 1.0), 2, FRAMES, SIZE, cfg.train.seed, False)
    assert np.array_equal(task.clips.gt, plain.gt)
    assert torch.isfinite(task.loss(task.model, 0)[0])
    same, changed = (
        training_batch(task.clips, np.random.default_rng(3), 4, 1, 5.0, augment)
        for augment in (None, CameraAugment())
    )
    assert same[0].shape == changed[0].shape == (4, 1, 3, SIZE, SIZE)
    assert not torch.equal(same[0], changed[0]) and not torch.equal(same[1], changed[1])
