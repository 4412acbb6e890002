"""The real-motion prior: how real tracks become its data, and how its samples are composed
with the audio model's (only its own channels change; lips stay the audio model's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avatarvid.assets import checkpoint_path
from avatarvid.data.real_motion import PRIOR_CHANNELS, centred, mirrored, stretched
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.sampling.motion import MotionSampling, load_denoiser, load_prior, sample_motion
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
    assert (x[:, brows] >= 0).all() and np.percentile(x[:, brows], 10, axis=0).max() < 1e-6
    m = mirrored(x)
    yaw, left, right = (PRIOR_CHANNELS.index(n)
                        for n in ("head_yaw", "brow_outer_up_l", "brow_outer_up_r"))
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


def test_shipped_prior_moves_like_the_real_tracks_it_learnt(models):
    """30 s sampled: head rotation amplitudes within a factor 1.6 of the real training tracks'
    (saved with the checkpoint) and several degrees, where the audio model alone makes ~1."""
    model, schedule, prior = models
    stats = json.loads((checkpoint_path("motion") / "prior" / "real_motion_stats.json").read_text())
    silence = np.zeros(30 * ANALYSIS_RATE, np.float32)
    runs = [sample_motion(model, silence, 25.0, seed=s, schedule=schedule, prior=prior)
            for s in range(3)]
    for name in ("head_yaw", "head_pitch", "head_roll"):
        std = np.mean([m[name].std() for m in runs])
        real = stats["train"]["std"][name]
        assert real / 1.6 < std < real * 1.6, (name, std, real)
    assert 2.5 < np.degrees(np.mean([m["head_yaw"].std() for m in runs])) < 7.0


def test_head_motion_zero_stills_the_prior_too(models):
    model, schedule, prior = models
    silence = np.zeros(2 * ANALYSIS_RATE, np.float32)
    still = sample_motion(model, silence, 25.0, settings=MotionSampling(head_motion=0.0),
                          schedule=schedule, prior=prior)
    head = MOTION_LAYOUT.indices(("head_pitch", "head_yaw", "head_roll", "head_tx", "head_ty"))
    assert np.abs(still.values[:, head]).max() == 0.0
