"""Diffusion renderer: sampler invariants, streaming refinement, training, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import EXAMPLES

from avatarvid.cli import main
from avatarvid.data.lighting import Relighter
from avatarvid.data.renderer_clips import _reference_state
from avatarvid.media.features import num_video_frames
from avatarvid.media.video import VideoReader
from avatarvid.models.renderer_unet import COND_CHANNELS, RendererUNet
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.perception import landmark_ids as ids
from avatarvid.sampling.denoise import img2img_timesteps
from avatarvid.sampling.renderer import RendererSampling, WindowSampler, renderer_solver
from avatarvid.sampling.windows import tiled_starts
from avatarvid.stages.refiner import DiffusionRefiner, load_renderer
from avatarvid.train.renderer import loss_weights, noise_scheduler
from avatarvid.warp.controls import draw_controls, face_box
from avatarvid.warp.face import FaceWarper
from avatarvid.warp.normals import FaceNormals, decode_normal_map

TINY = dict(block_channels=(8, 16), attention_levels=(False, True), heads=2, sample_size=16)


@pytest.fixture(scope="module")
def tiny_model() -> tuple[RendererUNet, dict]:
    torch.manual_seed(0)
    model = RendererUNet(**TINY).eval()
    # Random (not zero) temporal layers, so frames really depend on each other.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "temporal" in name:
                p.add_(0.05 * torch.randn_like(p))
    return model, dict(noise_scheduler().config)


def _clip(frames: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(frames, 3, 16, 16, generator=g) * 2 - 1, torch.rand(
        frames, COND_CHANNELS, 16, 16, generator=g
    )


def test_window_starts_cover_everything():
    assert tiled_starts(5, 8, 2) == [0]
    assert tiled_starts(14, 8, 2) == [0, 6]
    assert tiled_starts(15, 8, 2) == [0, 6, 7]
    for n in range(8, 40):
        starts = tiled_starts(n, 8, 3)
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s : s + 8] = True
        assert covered.all() and starts[-1] + 8 == n


def test_strength_zero_returns_the_warp(tiny_model):
    model, sched = tiny_model
    warped, cond = _clip(6)
    zero = RendererSampling(samples=1, strength=0.0, window=4, chunk=6)
    sampler = WindowSampler(model, sched, zero)
    assert torch.equal(sampler.sample_chunk(warped, cond, None, torch.Generator()), warped)
    out = WindowSampler(model, sched, RendererSampling(samples=1, strength=0.6, window=4, chunk=6))
    assert not torch.equal(out.sample_chunk(warped, cond, None, torch.Generator()), warped)


def test_samples_average_independent_draws(tiny_model):
    """`samples=2` is the mean of the two single-sample runs that use its two noise draws."""
    model, sched = tiny_model
    warped, cond = _clip(6)
    warped = warped * 0.1  # keep outputs inside [-1, 1]: the clamp would break the identity
    settings = dict(strength=1.0, steps=2, window=4, overlap=2, chunk=6)
    both = WindowSampler(model, sched, RendererSampling(samples=2, **settings))
    one = WindowSampler(model, sched, RendererSampling(samples=1, **settings))
    avg = both.sample_chunk(warped, cond, None, torch.Generator().manual_seed(5))
    first = one.sample_chunk(warped, cond, None, torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    torch.randn((1, *warped.shape), generator=gen)  # the first draw's noise
    second = one.sample_chunk(warped, cond, None, gen)
    assert avg.abs().max() < 1 and first.abs().max() < 1 and second.abs().max() < 1
    assert torch.allclose(avg, (first + second) / 2, atol=1e-5)
    assert not torch.allclose(first, second, atol=1e-3)


@pytest.mark.parametrize("scheduler", ["ddim", "dpm"])
def test_outpainting_reimposes_known_frames_at_every_step(tiny_model, scheduler):
    model, sched = tiny_model
    s = RendererSampling(
        samples=1, steps=4, strength=0.8, window=4, overlap=2, chunk=8, scheduler=scheduler
    )
    sampler = WindowSampler(model, sched, s)
    warped, cond = _clip(8)
    known = _clip(2, seed=7)[0]
    seen = []
    hook = model.register_forward_pre_hook(lambda m, args: seen.append(args[0][0].clone()))
    try:
        out = sampler.sample_chunk(warped, cond, known, torch.Generator().manual_seed(3))
    finally:
        hook.remove()
    assert torch.equal(out[:2], known)  # exactly, not approximately
    # Before every denoising step the known frames are the known residual noised to that step.
    noise = torch.randn(warped.shape, generator=torch.Generator().manual_seed(3))
    ref = renderer_solver(scheduler, sched)
    timesteps = img2img_timesteps(ref, 4, 0.8)
    assert len(timesteps) == 3
    first_window_inputs = seen[:: len(tiled_starts(8, 4, 2))]
    scale = model.config.residual_scale
    for x, t in zip(first_window_inputs, timesteps, strict=True):
        fresh = renderer_solver(scheduler, sched)  # no step state: noise level looked up by t
        fresh.set_timesteps(4)
        expect = fresh.add_noise((known - warped[:2]) * scale, noise[:2], t.reshape(1))
        torch.testing.assert_close(x[:2], ref.scale_model_input(expect, t), rtol=0, atol=1e-6)
    # The new frames depend on the known ones (they are conditioned, not just pasted).
    other = sampler.sample_chunk(warped, cond, -known, torch.Generator().manual_seed(3))
    assert (other[2:] - out[2:]).abs().max() > 1e-4


def test_same_seed_same_frames_and_chunks_continue(tiny_model):
    model, sched = tiny_model
    s = RendererSampling(
        samples=1, steps=2, strength=0.7, window=4, overlap=1, known=2, chunk=6, seed=5
    )
    warped, cond = _clip(16)

    def run(settings):
        sampler = WindowSampler(model, sched, settings)
        pieces = [(0, 6), (6, 10), (10, 14), (14, 16)]
        return torch.cat([sampler.next_chunk(warped[a:b], cond[a:b]) for a, b in pieces])

    a, b = run(s), run(s)
    assert a.shape == warped.shape and torch.equal(a, b)
    assert not torch.equal(a, run(RendererSampling(**{**s.__dict__, "seed": 6})))


@pytest.fixture(scope="module")
def face_clip(astronaut, astronaut_landmarks):
    """The astronaut at 128 px and 10 frames of jaw motion, warped."""
    import cv2

    image = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    lm = astronaut_landmarks * np.array([128 / astronaut.shape[1]] * 2 + [1.0], np.float32)
    rig, warper = FaceRig(lm), FaceWarper(image, lm)
    values = np.zeros((10, MOTION_LAYOUT.dim), np.float32)
    values[:, MOTION_LAYOUT.index("jaw_open")] = np.linspace(0, 0.8, 10)
    targets = rig.landmarks(values)
    return image, lm, [warper.render(t) for t in targets], targets


def test_controls_follow_the_mouth(face_clip):
    image, lm, _, targets = face_clip
    box = face_box(lm)
    closed, opened = draw_controls(targets[0], box, 64), draw_controls(targets[-1], box, 64)
    assert closed.shape == (64, 64, 3) and closed.dtype == np.uint8
    # The filled inner-mouth region grows as the jaw opens; other channels barely change.
    assert (opened[..., 2] > 100).sum() > (closed[..., 2] > 100).sum() + 10
    assert (opened[..., 1] > 0).sum() == pytest.approx((closed[..., 1] > 0).sum(), rel=0.2)


def test_refiner_streams_every_frame_in_order(tiny_model, face_clip):
    model, sched = tiny_model
    image, lm, frames, targets = face_clip
    s = RendererSampling(samples=1, steps=2, strength=0.0, window=4, overlap=1, known=2, chunk=6)
    refiner = DiffusionRefiner(model, sched, s, image, lm)
    got, sizes = [], []
    for f, t in zip(frames, targets, strict=True):
        out = refiner.push(f, t)
        sizes.append(len(out))
        got += out
    got += refiner.flush()
    assert sizes == [0, 0, 0, 0, 0, 6, 0, 0, 0, 4]  # a chunk of 6, then 4 new per chunk
    assert len(got) == 10 and all(np.array_equal(a, b) for a, b in zip(got, frames, strict=True))
    # With strength > 0 only the face box changes; the border of the frame is the warp's.
    refiner = DiffusionRefiner(
        model, sched, RendererSampling(**{**s.__dict__, "strength": 0.7}), image, lm
    )
    out = [o for f, t in zip(frames, targets, strict=True) for o in refiner.push(f, t)]
    out += refiner.flush()
    assert any(not np.array_equal(a, b) for a, b in zip(out, frames, strict=True))
    assert all(np.array_equal(a[:4], b[:4]) for a, b in zip(out, frames, strict=True))


@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory) -> Path:
    """`avatarvid train renderer` on a tiny config, stopped and resumed."""
    root = tmp_path_factory.mktemp("train")
    cfg = dict(
        photos=[str(EXAMPLES / "astronaut.png")],
        heldout_photos=[str(EXAMPLES / "astronaut.png")],
        size=24,
        frames=4,
        clips_per_source=2,
        heldout_clips_per_source=1,
        block_channels=[8, 16],
        attention_levels=[False, True],
        heads=2,
        stage1_steps=2,
        batch_frames=4,
        output=str(root / "work"),
        export=str(root / "out"),
        eval_steps=2,
        train=dict(steps=3, checkpoint_every=2),
    )
    path = root / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "renderer", "--config", str(path)]) == 0
    first = json.loads((root / "work/state/progress.json").read_text())
    assert first["step"] == 3
    cfg["train"]["steps"] = 5
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "renderer", "--config", str(path), "--resume"]) == 0
    assert json.loads((root / "work/state/progress.json").read_text())["step"] == 5
    return root / "out"


def test_training_saves_a_loadable_checkpoint_and_metrics(trained_tiny):
    model, sched = load_renderer(trained_tiny)
    assert model.config.sample_size == 24 and sched["prediction_type"] == "v_prediction"
    metrics = json.loads((trained_tiny / "metrics.json").read_text())
    for name in ("warp", "untrained", "trained"):
        scores = metrics["heldout"][name]
        assert 5 < scores["psnr"] < 80 and 0 < scores["mouth_ssim"] <= 1
    assert metrics["train"]["steps"] == 5


def test_vlog_with_the_diffusion_renderer(
    tmp_path, capsys, trained_tiny, astronaut_path, short_speech
):
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"size": 96, "diffusion": {"checkpoint": str(trained_tiny)}}))
    out = tmp_path / "d.mp4"
    argv = [
        "vlog",
        "--image",
        astronaut_path,
        "--audio",
        short_speech,
        "--preset",
        preset,
        "--renderer",
        "diffusion",
        "--steps",
        "2",
        "--strength",
        "0.5",
        "--chunk",
        "10",
        "--window",
        "5",
        "-q",
    ]
    assert main([str(a) for a in argv + ["-o", out]]) == 0
    frames = list(VideoReader(out).frames())
    assert len(frames) == num_video_frames(int(2.5 * 16000), 16000, 25.0)
    assert frames[0].shape == (96, 96, 3)
    # Bad settings and a missing checkpoint: one line, no output.
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump({"size": 96, "diffusion": {"checkpoint": str(tmp_path)}}))
    for extra in (["--overlap", "6"], ["--preset", missing]):
        before = set(tmp_path.rglob("*"))
        code = main([str(a) for a in argv + extra + ["-o", tmp_path / "x.mp4"]])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("avatarvid: error:") and err.count("\n") == 1, err
        assert set(tmp_path.rglob("*")) == before


def test_min_snr_weights_damp_the_nearly_clean_steps():
    sched = noise_scheduler()
    t = torch.tensor([5, 300, 600, 999])
    assert torch.equal(loss_weights(sched, t, 0.0), torch.ones(4))
    w = loss_weights(sched, t, 5.0)
    assert w[0] < 0.05 and w[1] > 0.5 and w[2] > 0.2 and w[3] < 0.01


def test_reference_states_differ_from_the_clip_like_a_photo():
    rng = np.random.default_rng(0)
    row = np.zeros(MOTION_LAYOUT.dim, np.float32)
    states = np.stack([_reference_state(rng, row) for _ in range(400)])
    assert not row.any() and (states >= MOTION_LAYOUT.low).all()
    assert (states <= MOTION_LAYOUT.high).all()
    for name, changed in (("blink_l", 0.6), ("jaw_open", 0.4), ("lip_press", 0.5)):
        share = (states[:, MOTION_LAYOUT.index(name)] >= changed).mean()
        assert 0.15 < share < 0.5, name
    assert 0.25 < (states[:, MOTION_LAYOUT.index("head_yaw")] != 0).mean() < 0.45


def test_relighting_follows_the_head_towards_the_light(face_clip):
    """Synthetic ground truth's shading: unchanged at the photo's own geometry, brighter when
    the face turns towards the key light (image left), darker away; hair and background kept."""
    image, lm, _, _ = face_clip
    rig, light = FaceRig(lm), Relighter(lm, image.shape[:2])
    assert np.allclose(light.ratio_map(lm), 1.0, atol=1e-5)
    yaw = MOTION_LAYOUT.index("head_yaw")
    face = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(face, [np.round(lm[list(ids.FACE_OVAL), :2]).astype(np.int32)], 1)
    face = face.astype(bool)
    means = {}
    for sign in (1, -1):
        row = np.zeros(MOTION_LAYOUT.dim, np.float32)
        row[yaw] = 0.2 * sign
        target = rig.landmarks(row)
        ratio = light.ratio_map(target)
        means[sign] = float(ratio[face].mean())
        assert ratio[:8].max() == pytest.approx(1.0) and ratio[:, :8].max() == pytest.approx(1.0)
        lit = light.apply(image, target)
        assert lit.dtype == np.uint8 and np.array_equal(lit[:8], image[:8])
    assert means[1] > 1.01 and means[-1] < 0.998 and means[1] - means[-1] > 0.02


def test_normal_maps_turn_with_the_head(face_clip):
    """Normals face the camera and rotate with head yaw; the map is 0 off the face."""
    image, lm, _, _ = face_clip
    mesh, rig = FaceNormals(lm), FaceRig(lm)
    front = mesh.vertex_normals(lm)
    assert np.allclose(np.linalg.norm(front, axis=1), 1.0) and (front[:, 2] < 0).mean() > 0.9
    row = np.zeros(MOTION_LAYOUT.dim, np.float32)
    row[MOTION_LAYOUT.index("head_yaw")] = 0.3  # nose towards the image's left
    target = rig.landmarks(row)
    turned = mesh.vertex_normals(target)
    # The normals turn with the rigid rotation of the mesh (Kabsch fit of the points).
    a, b = (np.asarray(x[:468], np.float64) for x in (lm, target))
    u, _, vt = np.linalg.svd((b - b.mean(0)).T @ (a - a.mean(0)))
    rotation = u @ vt
    assert np.degrees(np.arccos((np.trace(rotation) - 1) / 2)) == pytest.approx(17.2, abs=1.5)
    assert np.abs(turned - front @ rotation.T).mean() < 0.03
    assert turned[:, 0].mean() < front[:, 0].mean() - 0.1
    box = face_box(lm)
    drawn = mesh.normal_map(lm, front, box, 32)
    assert drawn.shape == (32, 32, 3) and drawn.dtype == np.uint8
    assert not drawn[0].any() and drawn[16, 16, 2] < 100  # nz < 0 at the face centre
    decoded, on_face = decode_normal_map(drawn)
    assert not on_face[0].any() and on_face[16, 16]
    assert 0.8 < np.linalg.norm(decoded[16, 16]) <= 1.01  # interpolated between unit normals
    assert decoded[16, 16, 2] < 0  # facing the camera
    flat = FaceNormals(lm[:, :2]).vertex_normals(lm[:, :2])
    assert np.array_equal(flat, np.tile([0.0, 0.0, -1.0], (len(flat), 1)))
