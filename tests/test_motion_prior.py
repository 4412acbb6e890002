"""The real-motion prior: how real tracks become its data, and how its samples are composed
with the audio model's (only its own channels change; lips stay the audio model's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avatarvid.assets import checkpoint_path
from avatarvid.data.real_motion import PRIOR_CHANNELS, centred, mirrored, stretched
from avatarvid.errors import CheckpointError
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.media.features import num_video_frames
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.sampling.motion import (
    CALIBRATION,
    MotionModel,
    MotionSampling,
    load_denoiser,
    load_prior,
    read_gain,
    sample_motion,
)
from avatarvid.sampling.schedulers import load_scheduler

PRIOR_COLUMNS = MOTION_LAYOUT.indices(PRIOR_CHANNELS)
OTHER_COLUMNS = [i for i in range(MOTION_LAYOUT.dim) if i not in PRIOR_COLUMNS]


@pytest.fixture(scope="module")
def models():
    path = checkpoint_path("motion")
    return load_denoiser(path), load_scheduler(path).config, load_prior(path)


def test_centred_tracks_rest_at_zero_and_mirror_back():
    rng = np.random.default_rng(0)
    values = rng.normal(0.3, 0.1, (200, MOTION_LAYOUT.dim)).astype(np.float32)
    x = centred(values)
    head = [PRIOR_CHANNELS.index(n) for n in ("head_yaw", "head_pitch", "gaze_x")]
    brows = [PRIOR_CHANNELS.index(n) for n in ("brow_inner_up", "brow_down")]
    np.testing.assert_allclose(np.median(x[:, head], axis=0), 0.0, atol=1e-6)
    assert (x[:, brows] >= 0).all() and ((x[:, brows] == 0).mean(axis=0) >= 0.09).all()
    m = mirrored(x)
    yaw, left, right = (
        PRIOR_CHANNELS.index(n) for n in ("head_yaw", "brow_outer_up_l", "brow_outer_up_r")
    )
    np.testing.assert_array_equal(m[:, yaw], -x[:, yaw])
    np.testing.assert_array_equal(m[:, left], x[:, right])
    np.testing.assert_array_equal(mirrored(m), x)
    assert len(stretched(x, 1.2)) == 240


def test_prior_replaces_only_its_channels(models):
    model, schedule, prior = models
    audio = np.random.default_rng(1).normal(0, 0.1, 3 * ANALYSIS_RATE).astype(np.float32)
    alone = sample_motion(model, audio, 25.0, seed=3, schedule=schedule).values
    composed = sample_motion(model, audio, 25.0, seed=3, schedule=schedule, prior=prior).values
    np.testing.assert_array_equal(composed[:, OTHER_COLUMNS], alone[:, OTHER_COLUMNS])
    assert np.abs(composed[:, PRIOR_COLUMNS] - alone[:, PRIOR_COLUMNS]).max() > 0.01
    again = sample_motion(model, audio, 25.0, seed=3, schedule=schedule, prior=prior).values
    np.testing.assert_array_equal(again, composed)


@pytest.mark.parametrize("seconds", [0.0006, 0.02, 0.04, 0.08])
def test_speech_shorter_than_a_prior_frame_still_gets_motion(models, seconds):
    """The prior runs at a lower frame rate than the video: a clip of one video frame is less
    than one prior frame, which once left it nothing to interpolate (a crash in `vlog`)."""
    model, schedule, prior = models
    audio = np.random.default_rng(2).normal(0, 0.1, int(seconds * ANALYSIS_RATE))
    motion = sample_motion(model, audio.astype(np.float32), 25.0, schedule=schedule, prior=prior)
    expected = num_video_frames(len(audio), ANALYSIS_RATE, 25.0)
    assert motion.num_frames == expected >= 1
    assert np.isfinite(motion.values).all()


def test_shipped_prior_moves_the_head_more_and_like_real_amplitudes(models, speech_path):
    """30 s of speech, 3 seeds: with the calibrated prior the head turns and tilts at least 1.5x
    as much as the audio model alone, and each rotation's std is within 0.4-1.2x the real
    training tracks' (170 s, saved with the checkpoint; 30 s of a head that drifts slowly hold
    ~2/3 of 60 s's std, and uncalibrated the prior reached ~0.3x here)."""
    model, schedule, prior = models
    stats = json.loads((checkpoint_path("motion") / "prior" / "real_motion_stats.json").read_text())
    speech = load_audio(speech_path, ANALYSIS_RATE)
    audio = np.tile(speech, 3)[: 30 * ANALYSIS_RATE]

    def std(name: str, with_prior: bool) -> float:
        runs = [
            sample_motion(
                model, audio, 25.0, seed=s, schedule=schedule, prior=prior if with_prior else None
            )
            for s in range(3)
        ]
        return float(np.mean([m[name].std() for m in runs]))

    for name in ("head_yaw", "head_roll"):
        assert std(name, True) > 1.5 * std(name, False), name
    for name in ("head_yaw", "head_pitch", "head_roll"):
        assert 0.4 < std(name, True) / stats["train"]["std"][name] < 1.2, name


def test_calibration_scales_exactly_the_prior_channels(models, tmp_path):
    """The shipped gains are read in the prior's channel order and multiply only its channels;
    a broken calibration file is a checkpoint error, not a traceback."""
    model, schedule, prior = models
    assert prior.gain is not None and prior.gain.shape == (len(PRIOR_CHANNELS),)
    shipped = json.loads((checkpoint_path("motion") / "prior" / CALIBRATION).read_text())
    yaw = PRIOR_CHANNELS.index("head_yaw")
    assert prior.gain[yaw] == pytest.approx(shipped["channel_gain"]["head_yaw"])
    audio = np.zeros(2 * ANALYSIS_RATE, np.float32)
    raw = MotionModel(prior.model, prior.schedule)
    plain = sample_motion(model, audio, 12.5, seed=5, schedule=schedule, prior=raw).values
    scaled = sample_motion(model, audio, 12.5, seed=5, schedule=schedule, prior=prior).values
    np.testing.assert_array_equal(scaled[:, OTHER_COLUMNS], plain[:, OTHER_COLUMNS])
    np.testing.assert_allclose(
        scaled[:, PRIOR_COLUMNS], plain[:, PRIOR_COLUMNS] * prior.gain, rtol=1e-5, atol=1e-7
    )
    for text in ("{}", '{"channel_gain": {"head_yaw": -1}}', "not json"):
        (tmp_path / CALIBRATION).write_text(text)
        with pytest.raises(CheckpointError, match=CALIBRATION):
            read_gain(tmp_path, PRIOR_CHANNELS)


def test_head_motion_zero_stills_the_prior_too(models):
    model, schedule, prior = models
    silence = np.zeros(2 * ANALYSIS_RATE, np.float32)
    still = sample_motion(
        model,
        silence,
        25.0,
        settings=MotionSampling(head_motion=0.0),
        schedule=schedule,
        prior=prior,
    )
    head = MOTION_LAYOUT.indices(("head_pitch", "head_yaw", "head_roll", "head_tx", "head_ty"))
    assert np.abs(still.values[:, head]).max() == 0.0
