"""Motion diffusion model: learning, sampling, guidance, checkpoints, training command, and the
shipped checkpoint driving a real render."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from avatarvid.assets import checkpoint_path
from avatarvid.cli import main
from avatarvid.data.motion_batches import WindowBank
from avatarvid.data.tts_corpus import synth_clip
from avatarvid.errors import CheckpointError
from avatarvid.evaluate.metrics import best_lag_correlation, pearson, speech_envelope
from avatarvid.evaluate.motion_eval import seam_smoothness
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.audio_features import FEATURE_DIM, frame_features
from avatarvid.motion.schema import MOTION_LAYOUT, Motion
from avatarvid.sampling.motion import MotionSampling, load_denoiser, sample_motion
from avatarvid.sampling.schedulers import load_scheduler
from avatarvid.sampling.windows import chained_starts
from avatarvid.train.motion import channel_weights, diffusion_loss, train_scheduler

TINY = dict(width=32, layers=2, heads=2, window=16, context=4, dropout=0.0)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(3)
    return [synth_clip(rng, "train", min_words=4) for _ in range(3)]


@pytest.fixture(scope="module")
def tiny_model(clips):
    torch.manual_seed(0)
    values = np.concatenate([c.motion for c in clips])
    return MotionDenoiser(
        **TINY, motion_mean=values.mean(0).tolist(), motion_std=values.std(0).clip(1e-3).tolist()
    ).eval()


def test_features_follow_the_audio_not_its_gain(clips):
    audio = clips[0].audio
    f = frame_features(audio, 25.0)
    assert f.shape == (round(len(audio) / ANALYSIS_RATE * 25), FEATURE_DIM)
    quiet = frame_features(audio * 0.1, 25.0)
    assert np.abs(quiet - f).max() < 0.05  # levels are relative to the clip's loud frames
    assert pearson(f[:, -1], speech_envelope(audio, ANALYSIS_RATE, 25.0, len(f))) > 0.8


@pytest.fixture
def one_thread():
    """Tiny batches: intra-op threads only add synchronisation on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_model_overfits_a_tiny_batch(clips, tiny_model, one_thread):
    model = MotionDenoiser.from_config(tiny_model.config).train()
    bank = WindowBank.build(clips, TINY["window"] + TINY["context"], 0, 0)
    f, m = (torch.from_numpy(a) for a in bank.batch(np.random.default_rng(0), 4))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler, weights = train_scheduler(model), channel_weights(3.0)
    losses = []
    for _ in range(150):
        gen = torch.Generator().manual_seed(0)  # same timesteps and noise: pure memorisation
        loss = diffusion_loss(model, scheduler, f, m, gen, weights, 0.0, 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 20


def _sample(model: MotionDenoiser, *args, **kwargs) -> Motion:
    """sample_motion on the schedule the model is trained with."""
    return sample_motion(model, *args, schedule=train_scheduler(model).config, **kwargs)


def test_sampling_shape_determinism_and_seams(clips, tiny_model):
    audio = np.concatenate([c.audio for c in clips])
    settings = MotionSampling(steps=4)
    a = _sample(tiny_model, audio, 25.0, seed=1, settings=settings)
    assert a.values.shape == (round(len(audio) / ANALYSIS_RATE * 25), MOTION_LAYOUT.dim)
    assert a.num_frames > 3 * TINY["window"]  # several windows, stitched by outpainting
    again = _sample(tiny_model, audio, 25.0, 1, settings)
    np.testing.assert_array_equal(a.values, again.values)
    assert not np.allclose(a.values, _sample(tiny_model, audio, 25.0, 2, settings).values)
    assert np.all(a.values >= MOTION_LAYOUT.low) and np.all(a.values <= MOTION_LAYOUT.high)
    at_30 = _sample(tiny_model, audio, 30.0, seed=1, settings=settings)
    assert at_30.fps == 30.0 and at_30.num_frames == round(len(audio) / ANALYSIS_RATE * 30)
    starts = chained_starts(a.num_frames, TINY["window"], settings.overlap)
    assert starts[:3] == [0, 6, 12]  # window 16 - overlap 10
    seam, inside = seam_smoothness(a.values, np.ones(MOTION_LAYOUT.dim), starts, settings.overlap)
    assert np.isfinite(seam) and np.isfinite(inside)
    with pytest.raises(ValueError, match="smaller than the window"):
        chained_starts(100, 16, 16)


def test_guidance_scale_changes_the_sample(clips, tiny_model):
    audio = clips[0].audio
    off = _sample(tiny_model, audio, 25.0, 0, MotionSampling(steps=3, audio_guidance=0.0))
    on = _sample(tiny_model, audio, 25.0, 0, MotionSampling(steps=3, audio_guidance=3.0))
    assert np.abs(off.values - on.values).max() > 1e-3
    head = MOTION_LAYOUT.index("head_yaw")
    still = _sample(tiny_model, audio, 25.0, 0, MotionSampling(steps=3, head_motion=0.0))
    assert np.all(still.values[:, head] == 0)


def test_checkpoint_round_trip(tmp_path, clips, tiny_model):
    tiny_model.save_pretrained(tmp_path / "ck", safe_serialization=True)
    assert (tmp_path / "ck" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = load_denoiser(tmp_path / "ck")
    assert loaded.config.motion_std == tiny_model.config.motion_std
    s = MotionSampling(steps=3)
    np.testing.assert_array_equal(
        _sample(tiny_model, clips[0].audio, 25.0, 0, s).values,
        _sample(loaded, clips[0].audio, 25.0, 0, s).values,
    )
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    (tmp_path / "ck" / "config.json").write_text(json.dumps({**cfg, "layout_version": 99}))
    with pytest.raises(CheckpointError, match="another motion layout"):
        load_denoiser(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="no motion checkpoint"):
        load_denoiser(tmp_path / "missing")


def test_train_command_exports_and_resumes(tmp_path, capsys):
    assert main(["data", "tts", "--out", str(tmp_path / "data"), "--hours", "0.003"]) == 0
    config = {
        "data": str(tmp_path / "data"),
        "output": str(tmp_path / "run"),
        "export": str(tmp_path / "export"),
        "model": TINY,
        "train": {
            "steps": 4,
            "batch_size": 4,
            "log_every": 2,
            "checkpoint_every": 2,
            "augment_copies": 1,
            "warmup": 2,
        },
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "motion", "--config", str(path)]) == 0
    assert load_denoiser(tmp_path / "export").config.window == TINY["window"]
    assert load_scheduler(tmp_path / "export").config.prediction_type == "sample"
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4] and all(np.isfinite(r["val_loss_ema"]) for r in log)
    config["train"]["steps"] = 6
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "motion", "--config", str(path), "--resume"]) == 0
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]  # continued from step 4, not from 0
    path.write_text("data: 3\n")
    capsys.readouterr()
    assert main(["train", "motion", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"avatarvid: error: invalid training config {path}: ")
    assert "data: Input is not a valid path" in err and err.count("\n") == 1


def test_shipped_checkpoint_lip_syncs_a_held_out_voice_and_drives_a_render(
    tmp_path, astronaut_path, short_speech
):
    model, schedule = load_denoiser("motion"), load_scheduler(checkpoint_path("motion")).config
    assert sum(p.numel() for p in model.parameters()) * 4 < 8e6  # a few MB
    clip = synth_clip(np.random.default_rng(0), "test")  # a voice never trained on
    a = sample_motion(model, clip.audio, 25.0, seed=3, schedule=schedule)
    jaw = MOTION_LAYOUT.index("jaw_open")
    corr, lag = best_lag_correlation(a["jaw_open"], clip.motion[:, jaw])
    assert corr > 0.7 and abs(lag) <= 1
    # Another seed: different head motion, the same lip sync.
    b = sample_motion(model, clip.audio, 25.0, seed=4, schedule=schedule)
    assert np.abs(a["head_yaw"] - b["head_yaw"]).mean() > 0.005
    assert pearson(a["jaw_open"], b["jaw_open"]) > 0.8
    video, motion_path = tmp_path / "d.mp4", tmp_path / "d.npz"
    assert (
        main(
            [
                "vlog",
                "--image",
                str(astronaut_path),
                "--audio",
                str(short_speech),
                "-o",
                str(video),
                "--size",
                "128",
                "--motion",
                "diffusion",
                "--seed",
                "3",
                "--audio-guidance",
                "2",
                "--head-motion",
                "0.5",
                "--motion-out",
                str(motion_path),
                "-q",
            ]
        )
        == 0
    )
    motion = Motion.load(motion_path)
    assert video.is_file() and motion.num_frames == round(len(load_audio(short_speech)) / 640)
    assert np.abs(motion["jaw_open"]).max() > 0.1
