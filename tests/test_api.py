"""The Python API (avatarvid.vlog / animate / upscale / Avatar), called directly: real
perception, motion and encoder on the 2.5 s speech fixture."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import read_wav, write_wav
from PIL import Image

import avatarvid
from avatarvid.cli import main
from avatarvid.media.video import VideoWriter, probe

FAST = {"size": 128, "motion": {"generator": "procedural"}}  # no model: quick renders


def test_import_is_light_and_exports_the_api():
    code = (
        "import sys, avatarvid; "
        "assert not {'torch', 'mediapipe', 'diffusers'} & set(sys.modules), sys.modules.keys(); "
        "assert issubclass(avatarvid.Cancelled, avatarvid.AvatarvidError); "
        "assert issubclass(avatarvid.NoFaceError, avatarvid.InputError); "
        "print(avatarvid.vlog.__module__, avatarvid.Avatar.__name__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["avatarvid.api", "Avatar"]


def test_vlog_writes_the_audio_length_and_same_bytes_as_the_cli(
    tmp_path, astronaut_path, short_speech
):
    """Default settings: the API with device="cpu" and the CLI with no --device give the same
    mp4 (one settings path, auto = cpu here)."""
    out = tmp_path / "api.mp4"
    r = avatarvid.vlog(astronaut_path, short_speech, out, device="cpu")
    assert isinstance(r, avatarvid.RenderResult)
    assert (r.path, r.frames, r.fps) == (out, 62, 25.0)
    assert r.seconds == pytest.approx(2.5, abs=1e-3)
    assert {"perception", "audio", "motion", "render", "encode"} <= set(r.timings)
    info = probe(out)
    assert (info.num_frames, info.width, info.height) == (62, 256, 256)
    assert abs(info.duration - 2.5) < 0.05 and info.audio_codec == "aac"
    cli = tmp_path / "cli.mp4"
    argv = ["vlog", "--image", astronaut_path, "--audio", short_speech, "-o", cli, "-q"]
    assert main([str(a) for a in argv]) == 0
    assert cli.read_bytes() == out.read_bytes()


def test_avatar_perceives_once_renders_two_audios_and_streams_frames(
    tmp_path, monkeypatch, astronaut_path, short_speech
):
    import avatarvid.pipelines.vlog as vlog_pipeline

    calls = []
    real = vlog_pipeline.perceive_reference
    monkeypatch.setattr(vlog_pipeline, "perceive_reference", lambda *a: calls.append(a) or real(*a))
    avatar = avatarvid.Avatar(astronaut_path, **FAST)
    samples, rate = read_wav(short_speech)
    one_second = write_wav(tmp_path / "one.wav", samples[:rate], rate)
    first = avatar.render(short_speech, tmp_path / "a.mp4", seed=1)
    second = avatar.render(one_second, tmp_path / "b.mp4", motion={"head_motion": 0.5})
    assert len(calls) == 1
    assert (first.frames, second.frames) == (62, 25)
    assert probe(second.path).num_frames == 25 and probe(first.path).width == 128
    frames = list(avatar.frames(one_second))
    assert len(frames) == 25 and len(calls) == 1
    assert all(f.shape == (128, 128, 3) and f.dtype == np.uint8 for f in frames)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.1  # it moves
    with pytest.raises(avatarvid.InputError, match="crop and size are fixed"):
        avatar.render(one_second, tmp_path / "c.mp4", size=256)


def test_progress_reports_stages_and_increasing_frames(tmp_path, astronaut_path, short_speech):
    calls: list[tuple[str, int, int | None]] = []
    avatarvid.vlog(
        astronaut_path,
        short_speech,
        tmp_path / "p.mp4",
        progress=lambda *c: calls.append(c),
        **FAST,
    )
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == ["perception", "audio", "motion", "render", "encode"]
    render = [(done, total) for stage, done, total in calls if stage == "render"]
    assert [done for done, _ in render] == list(range(1, 63))
    assert {total for _, total in render} == {62}
    assert calls[-1] == ("encode", 62, 62)


def test_cancel_mid_render_leaves_nothing(tmp_path, astronaut_path, short_speech):
    cancel = threading.Event()

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == "render" and done == 10:
            cancel.set()

    out = tmp_path / "out" / "c.mp4"
    out.parent.mkdir()
    with pytest.raises(avatarvid.Cancelled):
        avatarvid.vlog(astronaut_path, short_speech, out, progress=progress, cancel=cancel, **FAST)
    assert list(out.parent.iterdir()) == []  # no output, no temporary file


def test_bad_inputs_raise_avatarvid_errors(tmp_path, astronaut_path, short_speech):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(grey)
    out = tmp_path / "o.mp4"
    with pytest.raises(avatarvid.NoFaceError, match="no face"):
        avatarvid.vlog(grey, short_speech, out, **FAST)
    with pytest.raises(avatarvid.NoFaceError):
        avatarvid.Avatar(grey)
    with pytest.raises(avatarvid.InputError, match="audio file .* does not exist"):
        avatarvid.vlog(astronaut_path, tmp_path / "none.wav", out)
    with pytest.raises(
        avatarvid.InputError,
        match=r"setting motion\.head_motion: Input should be less than or equal to 3",
    ):
        avatarvid.vlog(astronaut_path, short_speech, out, motion={"head_motion": 9})
    with pytest.raises(avatarvid.InputError, match=r"setting size: .*greater than or equal"):
        avatarvid.Avatar(astronaut_path, size=8)
    with pytest.raises(avatarvid.InputError, match="unknown preset 'nope'"):
        avatarvid.vlog(astronaut_path, short_speech, out, preset="nope")
    with pytest.raises(avatarvid.InputError, match="face_index"):
        avatarvid.vlog(astronaut_path, short_speech, out, face_index=-1)
    assert not out.exists()


@pytest.mark.skipif(
    "torch" in sys.modules and __import__("torch").cuda.is_available(), reason="CUDA is present"
)
def test_absent_device_is_one_clear_error(tmp_path, capsys, astronaut_path, short_speech):
    out = tmp_path / "o.mp4"
    with pytest.raises(avatarvid.InputError, match="no CUDA device"):
        avatarvid.vlog(astronaut_path, short_speech, out, device="cuda")
    argv = ["vlog", "--image", astronaut_path, "--audio", short_speech, "-o", out, "-q"]
    assert main([str(a) for a in argv] + ["--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["avatarvid: error: --device cuda: no CUDA device is available here; use "
                   "--device cpu"]  # fmt: skip
    assert main(["upscale", "--video", "x.mp4", "-o", str(out), "--device", "gpu"]) == 2
    assert "--device: Input should be 'auto', 'cpu', 'cuda' or 'mps'" in capsys.readouterr().err
    assert not out.exists()


def test_upscale_api(tmp_path):
    video = tmp_path / "small.mp4"
    with VideoWriter(video, 25, 32, 32) as w:
        for k in range(6):
            w.write(np.full((32, 32, 3), 40 * k, np.uint8))
    calls = []
    r = avatarvid.upscale(video, tmp_path / "big.mp4", 2, progress=lambda *c: calls.append(c))
    assert (r.frames, r.fps) == (6, 25.0) and r.seconds == pytest.approx(6 / 25)
    info = probe(r.path)
    assert (info.width, info.height, info.num_frames) == (64, 64, 6)
    assert calls[-1] == ("upscale", 6, 6)
    with pytest.raises(avatarvid.InputError, match="scale 3 is not supported"):
        avatarvid.upscale(video, tmp_path / "x.mp4", 3)


def test_animate_api_result_progress_and_cancel(tmp_path, astronaut_path):
    """Face mode (astronaut driven by a 12-frame Grace Hopper clip), then the same cancelled."""
    import cv2
    from matplotlib import get_data_path

    from avatarvid.media.image import load_image

    face = load_image(Path(get_data_path()) / "sample_data/grace_hopper.jpg")[:512, :512]
    face = cv2.resize(face, (256, 256))
    drive = tmp_path / "head.mp4"
    with VideoWriter(drive, 25, 256, 256) as w:
        for k in range(12):
            m = cv2.getRotationMatrix2D((128, 110), 4 * np.sin(k / 3), 1.0)
            w.write(cv2.warpAffine(face, m, (256, 256), borderMode=cv2.BORDER_REFLECT))
    calls: list[tuple[str, int, int | None]] = []
    r = avatarvid.animate(
        astronaut_path, drive, tmp_path / "a.mp4", size=128, progress=lambda *c: calls.append(c)
    )
    assert (r.frames, r.fps, r.seconds) == (12, 25.0, pytest.approx(12 / 25))
    assert probe(r.path).num_frames == 12 and probe(r.path).width == 128
    assert [d for s, d, _ in calls if s == "render"] == list(range(1, 13))
    assert [d for s, d, _ in calls if s == "driver"] == list(range(1, 13))
    cancel = threading.Event()
    out = tmp_path / "out" / "c.mp4"
    out.parent.mkdir()
    with pytest.raises(avatarvid.Cancelled):
        avatarvid.animate(
            astronaut_path,
            drive,
            out,
            size=128,
            cancel=cancel,
            progress=lambda s, d, t: cancel.set() if (s, d) == ("render", 4) else None,
        )
    assert list(out.parent.iterdir()) == []
