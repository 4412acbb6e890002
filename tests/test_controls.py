"""The user's motion controls (--head-motion, --expressiveness, --blink-rate, --gaze) change
what they name, monotonically, on motion from the real generators and the bundled speech."""

from __future__ import annotations

import numpy as np
import pytest

from avatarvid.cli import main
from avatarvid.config.load import load_settings
from avatarvid.config.settings import VlogConfig
from avatarvid.evaluate.report import evaluate_talking_video
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.motion.controls import blink_onsets
from avatarvid.motion.schema import GAZE, MOTION_LAYOUT, MOUTH_CHANNELS
from avatarvid.pipelines.vlog import VlogRequest, make_motion

GENERATORS = ("diffusion", "procedural")


@pytest.fixture(scope="module")
def speech(speech_path) -> np.ndarray:
    return load_audio(speech_path, ANALYSIS_RATE)


def _motion(speech, astronaut_path, speech_path, generator: str, **motion):
    config = load_settings(VlogConfig, None, {"motion": {"generator": generator, **motion}})
    return make_motion(VlogRequest(astronaut_path, speech_path, None, config), speech)


@pytest.mark.parametrize("generator", GENERATORS)
def test_head_motion_scales_yaw(generator, speech, astronaut_path, speech_path):
    stds = [
        np.degrees(
            _motion(speech, astronaut_path, speech_path, generator, head_motion=s)["head_yaw"].std()
        )
        for s in (0.0, 0.5, 1.0)
    ]
    assert stds[0] == 0.0 and 0 < stds[1] < stds[2]


@pytest.mark.parametrize("generator", GENERATORS)
def test_expressiveness_scales_brows(generator, speech, astronaut_path, speech_path):
    amps = [
        _motion(speech, astronaut_path, speech_path, generator, expressiveness=s)[
            "brow_inner_up"
        ].std()
        for s in (0.0, 0.5, 1.0)
    ]
    assert amps[0] == 0.0 and 0 < amps[1] < amps[2]


@pytest.mark.parametrize("generator", GENERATORS)
def test_expressiveness_leaves_the_lips_speaking(generator, speech, astronaut_path, speech_path):
    """A calm face (0) or a lively one (2) says the same words: mouth channels are untouched."""
    mouth = MOTION_LAYOUT.indices(MOUTH_CHANNELS)
    runs = [
        _motion(speech, astronaut_path, speech_path, generator, expressiveness=s).values
        for s in (0.0, 1.0, 2.0)
    ]
    assert runs[1][:, mouth].std() > 0.05
    for run in (runs[0], runs[2]):
        np.testing.assert_array_equal(run[:, mouth], runs[1][:, mouth])


@pytest.mark.parametrize("generator", GENERATORS)
def test_blink_rate_sets_blinks_per_minute(generator, speech, astronaut_path, speech_path):
    rates = []
    for rate in (5, 15, 30):
        per_seed = []
        for seed in range(3):
            config = load_settings(
                VlogConfig,
                None,
                {"seed": seed, "motion": {"generator": generator, "blinks_per_minute": rate}},
            )
            m = make_motion(VlogRequest(astronaut_path, speech_path, None, config), speech)
            minutes = m.num_frames / m.fps / 60
            per_seed.append(len(blink_onsets(m["blink_l"])) / minutes)
        rates.append(float(np.mean(per_seed)))
    assert rates[0] < rates[1] < rates[2]
    assert rates[2] - rates[0] >= 10
    none = _motion(speech, astronaut_path, speech_path, generator, blinks_per_minute=0)
    assert none["blink_l"].max() == 0.0 and none["blink_r"].max() == 0.0


@pytest.mark.parametrize("generator", GENERATORS)
def test_gaze_camera_holds_the_eyes(generator, speech, astronaut_path, speech_path):
    free = _motion(speech, astronaut_path, speech_path, generator, gaze_mode="free")
    camera = _motion(speech, astronaut_path, speech_path, generator, gaze_mode="camera")
    assert sum(free[g].var() for g in GAZE) > 1e-4
    assert all(camera[g].var() == 0.0 and camera[g].max() == 0.0 for g in GAZE)


def test_still_head_measured_on_the_video(tmp_path, astronaut_path, short_speech):
    out = tmp_path / "still.mp4"
    paths = ["--image", str(astronaut_path), "--audio", str(short_speech), "-o", str(out)]
    flags = ["--head-motion", "0", "--size", "192", "--blink-rate", "0", "-q"]
    assert main(["vlog", *paths, *flags]) == 0
    report = evaluate_talking_video(out, astronaut_path, short_speech)
    assert report.face_fraction == 1.0
    assert report.yaw_std_deg < 0.5


def test_controls_reach_the_settings_from_flags_api_and_job_files(tmp_path, capsys):
    from avatarvid.errors import InputError
    from avatarvid.pipelines.batch.schema import load_jobs

    argv = ["vlog", "--image", "x.png", "--audio", "x.wav", "-o", str(tmp_path / "o.mp4")]
    assert main([*argv, "--blink-rate", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "avatarvid: error: --blink-rate: Input should be less than or equal to 60"
    motion = {"blinks_per_minute": 5, "gaze_mode": "camera"}
    config = load_settings(VlogConfig, "default", {"motion": motion})
    assert (config.motion.blinks_per_minute, config.motion.gaze_mode) == (5, "camera")
    with pytest.raises(InputError, match=r"setting motion\.gaze_mode: Input should be"):
        load_settings(VlogConfig, "default", {"motion": {"gaze_mode": "left"}})
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  - {image: a.png, audio: a.wav, output: a.mp4,"
        " motion: {blinks_per_minute: 5, gaze_mode: camera}}\n"
    )
    (job,) = load_jobs(jobs, device="cpu")
    assert job.spec["config"]["motion"]["gaze_mode"] == "camera"
    assert job.spec["config"]["motion"]["blinks_per_minute"] == 5
