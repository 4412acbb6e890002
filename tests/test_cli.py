"""The command line end to end: real renders, real evaluation, every bad input of the spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import read_wav, write_wav
from PIL import Image

from avatarvid.cli import main
from avatarvid.media.video import VideoReader, probe
from avatarvid.motion.schema import Motion


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


SPEECH_S = 4.0  # long enough for lip-sync correlations to separate sync from chance


@pytest.fixture(scope="module")
def speech_clips(tmp_path_factory, speech_path) -> tuple[Path, Path]:
    """The first SPEECH_S seconds of the bundled speech, and another stretch of it as long."""
    samples, rate = read_wav(speech_path)
    out, n = tmp_path_factory.mktemp("speech"), int(SPEECH_S * rate)
    start = int(7.0 * rate)
    return (
        write_wav(out / "speech.wav", samples[:n], rate),
        write_wav(out / "other.wav", samples[start : start + n], rate),
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, astronaut_path, speech_clips) -> tuple[Path, Path]:
    """One SPEECH_S render at 128 px with the default (diffusion) motion, shared below."""
    out = tmp_path_factory.mktemp("render")
    video, motion = out / "talk.mp4", out / "motion.npz"
    code = main(
        [
            "vlog",
            "--image",
            str(astronaut_path),
            "--audio",
            str(speech_clips[0]),
            "-o",
            str(video),
            "--size",
            "128",
            "--seed",
            "5",
            "--motion-out",
            str(motion),
            "-q",
        ]
    )
    assert code == 0
    return video, motion


def test_vlog_writes_h264_aac_mp4_matching_the_audio(rendered):
    video, motion = rendered
    info = probe(video)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height) == (128, 128)
    assert abs(info.duration - SPEECH_S) <= 1 / 25
    assert abs(info.audio_duration - SPEECH_S) < 0.05
    assert Motion.load(motion).num_frames == info.num_frames
    assert sorted(p.name for p in video.parent.iterdir()) == ["motion.npz", "talk.mp4"]


def test_rendered_video_moves_its_mouth_with_the_speech(rendered, astronaut_path, speech_clips):
    from avatarvid.evaluate.report import evaluate_talking_video

    report = evaluate_talking_video(rendered[0], astronaut_path, speech_clips[0]).to_dict()
    assert report["face_fraction"] >= 0.99
    assert report["identity_similarity"] > 0.5
    assert report["phoneme_sync_corr"] > 0.4 and abs(report["phoneme_sync_lag_frames"]) <= 2
    assert report["lipsync_corr"] > 0.4 and abs(report["lipsync_lag_frames"]) <= 2
    # The same mouth against other speech: both measures fall to chance.
    other = evaluate_talking_video(rendered[0], astronaut_path, speech_clips[1]).to_dict()
    assert other["phoneme_sync_corr"] < report["phoneme_sync_corr"] - 0.25
    assert other["lipsync_corr"] < report["lipsync_corr"] - 0.25


def test_same_seed_same_video_and_motion_reuse(tmp_path, rendered, astronaut_path, speech_clips):
    video, motion = rendered
    again = tmp_path / "again.mp4"
    code = main(
        [
            "vlog",
            "--image",
            str(astronaut_path),
            "--audio",
            str(speech_clips[0]),
            "-o",
            str(again),
            "--size",
            "128",
            "--motion-in",
            str(motion),
            "-q",
        ]
    )
    assert code == 0
    a = np.stack(list(VideoReader(video).frames()))
    b = np.stack(list(VideoReader(again).frames()))
    assert a.shape == b.shape and np.abs(a.astype(int) - b).mean() < 0.5


def test_full_crop_keeps_the_photo_aspect(tmp_path, capsys, short_speech):
    wide = tmp_path / "wide.jpg"
    from skimage import data

    Image.fromarray(np.pad(data.astronaut(), ((0, 0), (128, 128), (0, 0)), mode="edge")).save(wide)
    out = tmp_path / "wide.mp4"
    code, _, err = run_cli(
        capsys,
        "vlog",
        "--image",
        wide,
        "--audio",
        short_speech,
        "-o",
        out,
        "--crop",
        "full",
        "--size",
        "192",
        "-q",
    )
    assert code == 0, err
    info = probe(out)
    assert (info.width, info.height) == (192, 128)


def test_silent_audio_gives_a_valid_idle_video(tmp_path, capsys, astronaut_path):
    silent = write_wav(tmp_path / "silent.wav", np.zeros(16000 * 2), 16000)
    out = tmp_path / "idle.mp4"
    code, _, err = run_cli(
        capsys,
        "vlog",
        "--image",
        astronaut_path,
        "--audio",
        silent,
        "-o",
        out,
        "--size",
        "128",
        "-q",
    )
    assert code == 0, err
    assert probe(out).num_frames == 50


def _bad_inputs(tmp: Path, image: Path, audio: Path) -> dict[str, tuple[list, str]]:
    (tmp / "text.png").write_text("this is not an image")
    (tmp / "noise.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    write_wav(tmp / "empty.wav", np.zeros(0), 16000)
    Image.fromarray(np.full((256, 256, 3), 120, np.uint8)).save(tmp / "noface.png")
    Image.new("1", (10000, 10000)).save(tmp / "huge.png")
    ok = ["--image", image, "--audio", audio]
    return {
        "missing image": (["--image", tmp / "nope.png", "--audio", audio], "does not exist"),
        "missing audio": (["--image", image, "--audio", tmp / "nope.wav"], "does not exist"),
        "unreadable audio": (["--image", image, "--audio", tmp / "noise.wav"], "audio"),
        "zero-length audio": (["--image", image, "--audio", tmp / "empty.wav"], "audio"),
        "no face": (["--image", tmp / "noface.png", "--audio", audio], "no face"),
        "not an image": (["--image", tmp / "text.png", "--audio", audio], "image"),
        "huge image": (["--image", tmp / "huge.png", "--audio", audio], "large"),
        "missing output dir": (ok + ["-o", tmp / "no" / "dir" / "x.mp4"], "does not exist"),
        "bad preset": (ok + ["--preset", "nonexistent"], "unknown preset"),
        "bad size": (ok + ["--size", "7"], "size"),
    }


BAD_CASES = [
    "missing image",
    "missing audio",
    "unreadable audio",
    "zero-length audio",
    "no face",
    "not an image",
    "huge image",
    "missing output dir",
    "bad preset",
    "bad size",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_clear_line_and_no_output(
    tmp_path, capsys, astronaut_path, short_speech, case
):
    argv, expected = _bad_inputs(tmp_path, astronaut_path, short_speech)[case]
    if "-o" not in argv:
        argv = argv + ["-o", tmp_path / "out.mp4"]
    before = set(tmp_path.rglob("*"))
    code, out, err = run_cli(capsys, "vlog", *argv, "-q")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("avatarvid: error:"), err
    assert expected in lines[0].lower()
    assert set(tmp_path.rglob("*")) == before  # nothing written, not even a temp file


def test_console_script_prints_no_traceback(tmp_path, astronaut_path):
    """The installed entry point, as a user runs it: one line on stderr, exit code 2."""
    Image.fromarray(np.full((128, 128, 3), 200, np.uint8)).save(tmp_path / "blank.png")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "avatarvid.cli",
            "vlog",
            "--image",
            str(tmp_path / "blank.png"),
            "--audio",
            str(tmp_path / "missing.wav"),
            "-o",
            str(tmp_path / "o.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"avatarvid: error: audio file {tmp_path / 'missing.wav'} does not exist"
    ]


def test_info_and_help(capsys):
    code, out, _ = run_cli(capsys, "info")
    assert code == 0 and "mediapipe" in out and "0.10.21" in out and "device" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["vlog", "--help"])
    assert exit_info.value.code == 0
    assert "--motion-out" in capsys.readouterr().out


def test_bench_writes_json(tmp_path, capsys, astronaut_path, short_speech):
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(
        capsys,
        "bench",
        "--seconds",
        "1",
        "2",
        "--sizes",
        "128",
        "--image",
        astronaut_path,
        "--audio",
        short_speech,
        "--json",
        out,
    )
    assert code == 0, err
    report = json.loads(out.read_text())
    assert [r["seconds"] for r in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert run["fps"] > 0 and run["peak_rss_mb"] > 50
        assert {"perception", "motion", "render", "encode"} <= set(run["stages_s"])
    assert "rss_longest_over_shortest" in report["growth_with_length"]["128"]


@pytest.mark.parametrize(
    ("flag", "values", "message"),
    [
        ("--seconds", ["-1"], "--seconds -1: audio lengths must be in"),
        ("--seconds", ["5", "nan"], "--seconds nan: audio lengths must be in"),
        ("--sizes", ["128", "7"], "--sizes 7: Input should be a multiple of 2"),
    ],
)
def test_bench_refuses_bad_lengths_and_sizes_before_any_run(
    tmp_path, capsys, flag, values, message
):
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(capsys, "bench", flag, *values, "--json", out)
    assert code == 2 and message in err and "Traceback" not in err
    assert stdout == "" and not out.exists()
