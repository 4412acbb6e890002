"""Motion data engine: espeak-ng phoneme timings, viseme targets, augmentation, shards from
synthetic speech and from a real (rendered) talking-head video."""

from __future__ import annotations

import numpy as np
import pytest

from avatarvid.cli import main
from avatarvid.data.augment import augment, band_limit
from avatarvid.data.espeak import Espeak
from avatarvid.data.shards import read_split
from avatarvid.data.tts_corpus import SPLIT_VARIANTS
from avatarvid.data.visemes import is_vowel, motion_targets, phone_visemes
from avatarvid.evaluate.metrics import pearson
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.motion.schema import MOTION_LAYOUT, Motion


@pytest.fixture(scope="module")
def utterance():
    return Espeak().synth("Hello Bob. Maybe a map, or a big apple?", "en-us+m3", rate=150)


def _rms(audio: np.ndarray, rate: int, start: float, end: float) -> float:
    seg = audio[int(start * rate) : int(end * rate)]
    return float(np.sqrt(np.mean(seg**2))) if len(seg) else float("nan")


def test_phoneme_timings_match_the_audio(utterance):
    u = utterance
    names = [p.name for p in u.phones]
    assert {"b", "m", "p"} <= set(names)
    starts = np.array([p.start for p in u.phones])
    assert np.all(np.diff(starts) >= 0) and u.phones[-1].end == pytest.approx(len(u.audio) / u.rate)
    # Pauses the synthesiser reports are silent, vowels it reports are loud.
    pauses = [
        _rms(u.audio, u.rate, p.start, p.end)
        for p in u.phones
        if p.name == "_:" and p.end - p.start > 0.1
    ]
    vowels = [_rms(u.audio, u.rate, p.start, p.end) for p in u.phones if is_vowel(p.name)]
    assert pauses and max(pauses) < 0.1 * np.median(vowels)


def test_viseme_targets_close_lips_on_bilabials_and_open_on_vowels(utterance):
    u = utterance
    audio = np.interp(
        np.arange(0, len(u.audio) / u.rate, 1 / ANALYSIS_RATE),
        np.arange(len(u.audio)) / u.rate,
        u.audio,
    ).astype(np.float32)
    motion = motion_targets(audio, ANALYSIS_RATE, u.phones, 25.0, np.random.default_rng(0))
    assert motion.num_frames == round(len(audio) / ANALYSIS_RATE * 25)
    for p in u.phones:
        i = int(round((p.start + p.end) / 2 * 25))
        if p.name in ("b", "m", "p"):
            assert motion["lip_close"][i] >= 0.9 and motion["jaw_open"][i] <= 0.06
        if p.name in ("a", "aI", "A:") and p.end - p.start > 0.06:
            span = motion["jaw_open"][int(p.start * 25) : int(np.ceil(p.end * 25)) + 1]
            assert span.max() > 0.3
    low, high = MOTION_LAYOUT.low, MOTION_LAYOUT.high
    assert np.all(motion.values >= low) and np.all(motion.values <= high)
    assert len(phone_visemes("aI")) == 2 and phone_visemes("zz-unknown")  # diphthong, fallback


def test_augmentation_changes_the_signal_but_keeps_length_and_range(utterance):
    rng = np.random.default_rng(0)
    x = utterance.audio[:16000].astype(np.float32)
    y = augment(x, 16000, rng, p=1.0)
    assert y.shape == x.shape and np.isfinite(y).all() and np.abs(y).max() <= 1.0
    assert abs(pearson(x, y)) < 0.99
    spec = lambda s: np.abs(np.fft.rfft(s))  # noqa: E731
    narrow = band_limit(x, 16000, 300, 3400)
    hi = np.fft.rfftfreq(len(x), 1 / 16000) > 5000
    assert spec(narrow)[hi].sum() < 0.05 * spec(x)[hi].sum()


def test_data_tts_command_writes_aligned_shards_with_held_out_voices(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["data", "tts", "--out", str(out), "--hours", "0.004"]) == 0
    assert "wrote 3 shards" in capsys.readouterr().out
    splits = {s: read_split(out, s) for s in ("train", "val", "test")}
    for clips in splits.values():
        for c in clips:
            assert c.motion.shape[1] == MOTION_LAYOUT.dim
            assert abs(len(c.motion) - len(c.audio) / ANALYSIS_RATE * c.fps) <= 0.5
            assert c.meta["phones"][-1][2] == pytest.approx(len(c.audio) / ANALYSIS_RATE, abs=0.01)
    train_voices = {c.meta["voice"].split("+")[1] for c in splits["train"]}
    test_voices = {c.meta["voice"].split("+")[1] for c in splits["test"]}
    assert train_voices <= set(SPLIT_VARIANTS["train"]) and not train_voices & test_voices
    assert not {c.meta["text"] for c in splits["train"]} & {c.meta["text"] for c in splits["test"]}


def test_data_videos_tracks_a_rendered_clip(tmp_path, astronaut_path, short_speech, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    motion_path = tmp_path / "motion.npz"
    assert (
        main(
            [
                "vlog",
                "--image",
                str(astronaut_path),
                "--audio",
                str(short_speech),
                "-o",
                str(videos / "talk.mp4"),
                "--size",
                "192",
                "--motion",
                "procedural",
                "--motion-out",
                str(motion_path),
                "-q",
            ]
        )
        == 0
    )
    assert main(["data", "videos", "--in", str(videos), "--out", str(tmp_path / "shards")]) == 0
    (clip,) = read_split(tmp_path / "shards", "train")
    truth = Motion.load(motion_path)
    assert clip.meta["face_fraction"] == 1.0 and len(clip.motion) == truth.num_frames
    jaw = MOTION_LAYOUT.index("jaw_open")
    assert pearson(clip.motion[:, jaw], truth["jaw_open"]) > 0.8
    yaw = MOTION_LAYOUT.index("head_yaw")
    assert pearson(clip.motion[:, yaw], truth["head_yaw"] - truth["head_yaw"][0]) > 0.8


def test_data_videos_rejects_a_folder_without_videos(tmp_path, capsys):
    assert main(["data", "videos", "--in", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("avatarvid: error: no videos") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
