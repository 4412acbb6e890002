"""Super-resolution: network invariants, degradations, windowed streaming, training, the
shipped checkpoint against bicubic on a held-out photo, `avatarvid upscale` and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avatarvid.cli import main
from avatarvid.data.degrade import Degradation, h264, jpeg
from avatarvid.errors import InputError
from avatarvid.media.video import VideoWriter, probe
from avatarvid.models import sr_net
from avatarvid.models.sr_net import SRNet, bicubic
from avatarvid.sampling.schedulers import load_scheduler, save_scheduler
from avatarvid.sampling.sr import make_scheduler, super_resolve
from avatarvid.stages.sr import SRStage
from avatarvid.stages.sr_temporal import StaticHold
from avatarvid.stages.upscaler import VideoUpscaler, load_sr_model, load_sr_schedule, stages_for

ROOT = Path(__file__).resolve().parent.parent


def _randomised(model: SRNet, temporal: bool) -> SRNet:
    """A net whose output is not zero (and, with `temporal`, mixes frames)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "temporal" in name and not temporal:
                continue
            p.normal_(0, 0.05)
    return model.eval()


@pytest.mark.parametrize("diffusion", [False, True])
def test_untrained_net_is_exactly_bicubic(diffusion):
    model = SRNet(channels=8, num_blocks=2, diffusion=diffusion).eval()
    lr = torch.rand(6, 3, 12, 16)
    guide = torch.rand(6, 3, 24, 32)
    out = super_resolve(model, lr, 3, guide, steps=2, schedule=make_scheduler(model).config)
    assert out.shape == (6, 3, 24, 32)
    torch.testing.assert_close(out, bicubic(lr, 2).clamp(0, 1))


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "cropped"])
def test_bicubic_on_cpu_equals_torch_interpolate(scale, layout):
    """OpenCV's bicubic (the CPU inference path) is torch's to float rounding, borders too."""
    x = torch.rand(3, 3, 19, 11)
    x = {
        "nchw": x,
        "channels_last": x.contiguous(memory_format=torch.channels_last),
        "cropped": x[..., 2:, 1:],
    }[layout]
    expected = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    with torch.inference_mode():
        out = bicubic(x, scale)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    # with gradients (training) it is torch's own
    torch.testing.assert_close(bicubic(x.requires_grad_(True), scale), expected)


@pytest.mark.parametrize("guided", [False, True])
def test_inference_in_frame_chunks_equals_the_whole_batch(monkeypatch, guided):
    """Inference runs the per-frame layers a few frames at a time; training (with gradients)
    runs the whole batch: the two agree, temporal mixing included."""
    model = _randomised(SRNet(channels=8, num_blocks=4), temporal=True)
    lr = torch.rand(2 * 5, 3, 10, 12)
    guide = torch.rand(10, 3, 20, 24) if guided else None
    mask = torch.ones(10, 1, 10, 12) if guided else None
    whole = model(lr, 5, guide, mask)
    monkeypatch.setattr(sr_net, "CHUNK_PIXELS", 3 * 10 * 12)  # 3 frames a call
    with torch.inference_mode():
        chunked = model(lr, 5, guide, mask)
    torch.testing.assert_close(chunked, whole.detach(), rtol=0, atol=1e-6)


def test_shapes_and_guide_changes_the_output():
    model = _randomised(SRNet(channels=8, num_blocks=2), temporal=True)
    lr = torch.rand(4, 3, 10, 14)
    plain = model(lr, 2)
    guided = model(lr, 2, torch.rand(4, 3, 20, 28), torch.ones(4, 1, 10, 14))
    assert plain.shape == guided.shape == (4, 3, 20, 28)
    assert (plain - guided).abs().max() > 1e-3
    # a guide that is masked out everywhere is the same as no guide
    masked = model(lr, 2, torch.rand(4, 3, 20, 28), torch.zeros(4, 1, 10, 14))
    torch.testing.assert_close(masked, plain)
    with pytest.raises(ValueError, match="noisy"):
        SRNet(channels=8, num_blocks=1, diffusion=True)(lr, 2)


def test_save_and_load_round_trip(tmp_path):
    model = _randomised(SRNet(channels=8, num_blocks=2, diffusion=True), temporal=True)
    model.save_pretrained(tmp_path)
    save_scheduler(make_scheduler(model), tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    assert json.loads((tmp_path / "config.json").read_text())["diffusion"] is True
    loaded = load_sr_model(tmp_path.name, tmp_path.parent)
    schedule = load_sr_schedule(tmp_path.name, tmp_path.parent)
    assert schedule["prediction_type"] == "sample" and schedule["clip_sample"] is False
    lr = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(
        super_resolve(loaded, lr, 2, schedule=schedule),
        super_resolve(model, lr, 2, schedule=schedule),
    )
    with pytest.raises(ValueError, match="noise schedule"):
        super_resolve(loaded, lr, 2)


def _frames(n: int, h: int = 12, w: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _stream(up: VideoUpscaler, frames: list[np.ndarray]) -> list[np.ndarray]:
    out = [f for frame in frames for f in up.push(frame)]
    return out + up.flush()


@pytest.mark.parametrize("n", [1, 3, 4, 5, 6, 11])
def test_windows_keep_every_frame_in_order(n):
    """Per-frame model: windowed streaming must equal processing each frame on its own."""
    model = _randomised(SRNet(channels=8, num_blocks=2), temporal=False)
    frames = _frames(n)
    out = _stream(VideoUpscaler(model, 2, window=4), frames)
    assert len(out) == n
    for frame, got in zip(frames, out, strict=True):
        single = VideoUpscaler(model, 2, window=4)
        assert np.abs(got.astype(int) - _stream(single, [frame])[0]).max() <= 1


@pytest.mark.parametrize(("n", "scale"), [(2, 2), (4, 2), (5, 2), (9, 2), (12, 2), (11, 4)])
def test_windows_with_temporal_context_equal_the_whole_clip(n, scale):
    """Windows share 2r frames and keep only those with r neighbours each side (r: temporal
    layers x stages): the stream is the whole clip in one pass, so there is nothing to seam."""
    model = _randomised(SRNet(channels=8, num_blocks=4), temporal=True)
    assert model.temporal_radius == 2
    frames = _frames(n, 8, 10)
    window = 4 * (scale // 2) + 1  # the smallest: 2r + 1
    out = _stream(VideoUpscaler(model, scale, window=window), frames)
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    whole = x
    for _ in range(scale // 2):
        whole = super_resolve(model, whole, n)
    whole = whole.permute(0, 2, 3, 1).numpy() * 255
    assert len(out) == n
    for got, want in zip(out, whole, strict=True):
        assert np.abs(got.astype(float) - want).max() <= 0.51
    # the frames do mix: a window that cut the context short would differ
    cut = super_resolve(model, x[:2], 2).permute(0, 2, 3, 1).numpy() * 255
    assert scale == 4 or n == 2 or np.abs(cut[1] - whole[1]).max() > 1
    with pytest.raises(ValueError, match="window"):
        VideoUpscaler(model, scale, window=window - 1)


def test_static_hold_keeps_output_where_the_input_did_not_change():
    hold = StaticHold()
    low = _frames(1, 8, 16)[0]
    first, second = np.full((16, 32, 3), 100.0), np.full((16, 32, 3), 110.0)
    np.testing.assert_array_equal(hold(low, first), first)  # nothing to hold on to yet
    np.testing.assert_allclose(hold(low, second), first)  # same input: previous output kept
    moved = low.copy()
    moved[:, 12:] = 255 - moved[:, 12:]  # the right quarter changes a lot
    out = hold(moved, np.full((16, 32, 3), 120.0))
    np.testing.assert_allclose(out[:, :8], 100.0, atol=1e-3)  # far from the change: held
    np.testing.assert_allclose(out[:, 26:], 120.0, atol=1e-3)  # moved: the new output


def test_x4_is_two_x2_stages_and_bad_scales_are_refused():
    model = _randomised(SRNet(channels=8, num_blocks=2), temporal=True)
    out = _stream(VideoUpscaler(model, 4, window=5), _frames(4, 8, 10))
    assert [f.shape for f in out] == [(32, 40, 3)] * 4
    assert stages_for(2) == 1 and stages_for(4) == 2
    with pytest.raises(InputError, match="scale 3"):
        stages_for(3)


def test_sr_stage_none_passes_frames_and_bicubic_resizes():
    frame = _frames(1, 20, 30)[0]
    none = SRStage("none", 2, (20, 30))
    assert none.scale == 1 and none.push(frame)[0] is frame and none.flush() == []
    bic = SRStage("bicubic", 2, (40, 60))
    assert bic.render_shape == (20, 30) and bic.shrink(np.zeros((40, 60, 3), np.uint8)).shape[:2]
    cubic = cv2.resize(frame, (60, 40), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(bic.push(frame)[0], cubic)
    assert (cubic != cv2.resize(frame, (60, 40), interpolation=cv2.INTER_LINEAR)).any()


def test_degradations_shapes_and_codecs(astronaut):
    clip = np.stack([astronaut[:96, :128]] * 3)
    rng = np.random.default_rng(0)
    clean = Degradation.clean().apply(clip, 2, rng)
    area = cv2.resize(clip[0], (64, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(clean[0], area)
    for _ in range(8):
        assert Degradation.random(rng).apply(clip, 2, rng).shape == (3, 48, 64, 3)
    low = clean[:, :47, :63]  # odd sizes survive the H.264 round trip
    coded = h264(low, 20)
    assert coded.shape == low.shape
    assert np.abs(coded.astype(int) - low).mean() < 6
    assert np.abs(jpeg(low[0], 30).astype(int) - low[0]).mean() > 0.5
    with pytest.raises(ValueError, match="divisible"):
        Degradation.clean().apply(clip[:, :95], 2, rng)


def test_training_writes_a_loadable_checkpoint(tmp_path):
    config = tmp_path / "sr.yaml"
    text = (
        f"output: {tmp_path / 'run'}\nexport: {tmp_path / 'out'}\nvariant: diffusion\n"
        "model: {channels: 8, num_blocks: 2}\n"
        f"data: {{images: ['{ROOT / 'examples' / 'astronaut.png'}'], frames: 2, patch: 32}}\n"
    )
    config.write_text(text + "train: {steps: 3, batch_clips: 2, log_every: 1}\n")
    assert main(["train", "sr", "--config", str(config)]) == 0
    stats = json.loads((tmp_path / "out" / "training.json").read_text())
    assert stats["steps"] == 3 and stats["cpu_s"] > 0
    model = load_sr_model("out", tmp_path)
    assert model.config.diffusion and model.config.channels == 8
    assert load_scheduler(tmp_path / "out").config.prediction_type == "sample"
    assert load_sr_schedule("out", tmp_path)["clip_sample"] is False
    config.write_text(text + "train: {steps: 5, batch_clips: 2, log_every: 1}\n")
    assert main(["train", "sr", "--config", str(config), "--resume"]) == 0
    stats = json.loads((tmp_path / "out" / "training.json").read_text())
    assert stats["steps"] == 5  # continued from step 3
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5]


def test_shipped_fast_model_beats_bicubic_on_a_held_out_photo(astronaut):
    """astronaut.png was excluded from training (configs/train/sr_fast.yaml)."""
    truth = astronaut[128:384, 128:384]
    low = cv2.resize(truth, (128, 128), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(low).permute(2, 0, 1)[None].float() / 255
    model = load_sr_model("fast")
    sr = super_resolve(model, x, 1)[0].permute(1, 2, 0).numpy() * 255
    base = bicubic(x, 2).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255

    def psnr(a):
        return 10 * np.log10(255**2 / np.mean((np.rint(a) - truth) ** 2))

    assert psnr(sr) > psnr(base) + 0.3


def _write_video(path: Path, frames: int, size: tuple[int, int], audio: bool = True) -> Path:
    w, h = size
    rng = np.random.default_rng(0)
    sound = rng.normal(0, 0.1, int(48000 * frames / 10)).astype(np.float32) if audio else None
    with VideoWriter(path, 10, w, h, audio=sound, audio_rate=48000) as writer:
        for i in range(frames):
            frame = np.full((h, w, 3), 40 + 10 * i, np.uint8)
            cv2.circle(frame, (w // 2 + i, h // 2), min(w, h) // 4, (200, 90, 30), -1)
            writer.write(frame)
    return path


def test_upscale_command_writes_video_with_audio(tmp_path, astronaut):
    src = _write_video(tmp_path / "in.mp4", 5, (64, 48))
    out = tmp_path / "out.mp4"
    assert main(["upscale", "--video", str(src), "-o", str(out), "-q"]) == 0
    info = probe(out)
    assert (info.width, info.height, info.num_frames) == (128, 96, 5)
    assert info.audio_codec == "aac" and abs(info.audio_duration - 0.5) < 0.1


def test_upscale_with_a_reference_face(tmp_path, astronaut, astronaut_path):
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    src = tmp_path / "face.mp4"
    with VideoWriter(src, 10, 128, 128) as writer:
        for _ in range(3):
            writer.write(small)
    out = tmp_path / "big.mp4"
    args = ["upscale", "--video", str(src), "-o", str(out), "--reference", str(astronaut_path)]
    assert main([*args, "-q"]) == 0
    assert (probe(out).width, probe(out).num_frames) == (256, 3)


def _audio_only(path: Path) -> Path:
    """An mp4 with sound and zero video frames."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "mono"
        silence = np.zeros((1, 4800), np.float32)
        frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
        frame.sample_rate = 48000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("garbage", "cannot read video"),
        ("empty", "has no video stream"),
        ("scale", "scale 3 is not supported"),
        ("huge", "above the 4096 px limit"),
        ("missing", "does not exist"),
        ("noface", "no face"),
    ],
)
def test_upscale_bad_inputs_fail_in_one_line_without_output(tmp_path, capsys, case, message):
    video = _write_video(tmp_path / "ok.mp4", 2, (32, 32), audio=False)
    args = ["--scale", "2"]
    if case == "garbage":
        video = tmp_path / "garbage.mp4"
        video.write_bytes(b"not a video at all" * 100)
    elif case == "empty":
        video = _audio_only(tmp_path / "empty.mp4")
    elif case == "scale":
        args = ["--scale", "3"]
    elif case == "huge":
        video = _write_video(tmp_path / "wide.mp4", 1, (1040, 32), audio=False)
        args = ["--scale", "4"]
    elif case == "missing":
        video = tmp_path / "nope.mp4"
    elif case == "noface":
        args += ["--reference", str(video.with_suffix(".png"))]
        cv2.imwrite(args[-1], np.full((64, 64, 3), 128, np.uint8))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(["upscale", "--video", str(video), "-o", str(out_dir / "o.mp4"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err, err
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("mode", ["bicubic", "fast"])
def test_vlog_renders_small_and_upscales_to_size(tmp_path, astronaut_path, mode):
    from conftest import write_wav

    t = np.arange(16000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 180 * t) * (t % 0.4 < 0.2)
    speech = write_wav(tmp_path / "s.wav", tone, 16000)
    out = tmp_path / "v.mp4"
    argv = ["vlog", "--image", str(astronaut_path), "--audio", str(speech), "-o", str(out)]
    assert main([*argv, "--preset", "fast", "--size", "128", "--sr", mode, "-q"]) == 0
    info = probe(out)
    assert (info.width, info.height, info.num_frames) == (128, 128, 25)


@pytest.mark.parametrize(
    ("variant", "scale", "guided"),
    [("fast", 2, False), ("fast", 4, False), ("fast", 2, True), ("diffusion", 2, False)],
)
def test_tiles_and_short_windows_give_the_same_frames(astronaut, variant, scale, guided):
    """A 3 MB budget forces spatial tiles (and, for the one-pass net, shorter windows): the
    result must not change, with a guide too (tiles overlap by more than the receptive field;
    the diffusion variant's noise is cropped from the whole frame's)."""
    frames = [
        cv2.resize(np.roll(astronaut, 4 * i, axis=1), (120, 100), interpolation=cv2.INTER_AREA)
        for i in range(7)
    ]
    model = load_sr_model(variant)
    schedule = load_sr_schedule(variant) if variant == "diffusion" else None
    window = 4 if variant == "diffusion" else 16  # its noise is per window: keep them equal
    guide = cv2.resize(astronaut, (120 * scale, 100 * scale), interpolation=cv2.INTER_AREA)
    mask = np.zeros((100 * scale, 120 * scale), np.float32)
    mask[40:160, 60:200] = 1.0

    def upscale_all(upscaler: VideoUpscaler, frames: list[np.ndarray]) -> np.ndarray:
        extra = (guide, mask) if guided else ()
        return np.stack([o for f in frames for o in upscaler.push(f, *extra)] + upscaler.flush())

    whole = VideoUpscaler(model, scale, window=window, schedule=schedule)
    tiled = VideoUpscaler(model, scale, window=window, schedule=schedule, max_memory_mb=3)
    a, b = upscale_all(whole, frames), upscale_all(tiled, frames)
    assert a.shape == (7, 100 * scale, 120 * scale, 3)
    assert np.abs(a.astype(int) - b).max() <= 1 and (a != b).mean() < 1e-4


def test_large_frames_get_short_windows_within_the_memory_budget():
    upscaler = VideoUpscaler(load_sr_model("fast"), 4)
    upscaler.push(np.zeros((576, 768, 3), np.uint8))  # x4 -> 3072x2304
    assert 2 * upscaler.context + 2 <= upscaler.window < 16
    small = VideoUpscaler(load_sr_model("fast"), 2)
    small.push(np.zeros((128, 128, 3), np.uint8))
    assert small.window == 16
