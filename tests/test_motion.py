"""Motion contract, expression rig and procedural baseline."""

from __future__ import annotations

import numpy as np
import pytest

from avatarvid.errors import InputError
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.motion.procedural import procedural_motion, speech_activity
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import EXPRESSIONS, GAZE, MOTION_LAYOUT, Motion
from avatarvid.perception import landmark_ids as ids

L = MOTION_LAYOUT


def test_layout_names_and_ranges():
    assert L.dim == 3 + 3 + len(EXPRESSIONS) + 2
    assert len(set(L.names)) == L.dim
    assert {"jaw_open", "blink_l", "blink_r", "smile_l", "gaze_x", "head_yaw"} <= set(L.names)
    assert (L.low < L.high).all()


def test_motion_npz_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    m = Motion(rng.uniform(L.low, L.high, (40, L.dim)), fps=25)
    m.save(tmp_path / "m.npz")
    back = Motion.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.values, m.values)
    assert back.fps == 25 and list(tmp_path.iterdir()) == [tmp_path / "m.npz"]


def test_motion_load_rejects_foreign_files(tmp_path):
    np.savez(tmp_path / "x.npz", values=np.zeros((3, 4)))
    with pytest.raises(InputError, match="not an avatarvid motion file"):
        Motion.load(tmp_path / "x.npz")
    (tmp_path / "bad.npz").write_text("nope")
    with pytest.raises(InputError):
        Motion.load(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="does not exist"):
        Motion.load(tmp_path / "missing.npz")


def test_resample_keeps_shape_and_values():
    m = Motion.zeros(50, 25)
    m["jaw_open"] = np.linspace(0, 1, 50)
    r = m.resampled(50, 100)
    assert r.values.shape == (100, L.dim)
    assert r["jaw_open"][0] == 0 and abs(r["jaw_open"][98] - 1.0) < 0.02


def test_zero_residual_reproduces_reference(astronaut_landmarks):
    rig = FaceRig(astronaut_landmarks)
    np.testing.assert_allclose(rig.landmarks(np.zeros(L.dim)), astronaut_landmarks, atol=1e-3)


def test_landmark_rig_landmark_round_trip(astronaut_landmarks):
    """residual -> landmarks -> fit -> the same residual, for random in-range residuals."""
    rig = FaceRig(astronaut_landmarks)
    rng = np.random.default_rng(0)
    residuals = rng.uniform(L.low, L.high, (8, L.dim)).astype(np.float32)
    residuals[:, :6] *= 0.5  # keep head poses where a face is still a face
    for r in residuals:
        fitted = rig.fit(rig.landmarks(r))
        np.testing.assert_allclose(fitted, r, atol=2e-3)


def test_fit_reduced_solve_matches_the_full_design(astronaut_landmarks):
    """`fit` solves its bounded least squares on the design's QR factor: for exaggerated,
    noisy expression offsets (bounds active) it gives the same coefficients as bounded least
    squares on the full (956, K) design."""
    from scipy.optimize import lsq_linear

    rig = FaceRig(astronaut_landmarks)
    shape = L.indices(EXPRESSIONS + GAZE)
    low, high = L.low[shape], L.high[shape]
    design = rig.basis[:, :, :2].reshape(len(rig.basis), -1).T
    rng = np.random.default_rng(1)
    for _ in range(4):
        delta = design @ (1.5 * rng.uniform(low, high)) + rng.normal(0, 0.01, len(design))
        full = lsq_linear(design, delta, bounds=(low, high)).x
        reduced = lsq_linear(rig._fit_r, rig._fit_qt @ delta, bounds=(low, high), method="bvls").x
        assert np.isclose(reduced, low).any() or np.isclose(reduced, high).any()
        np.testing.assert_allclose(reduced, full, atol=1e-4)


def test_rig_actions_move_the_right_places(astronaut_landmarks):
    rig = FaceRig(astronaut_landmarks)
    ref = astronaut_landmarks

    def target(**channels):
        r = np.zeros(L.dim, np.float32)
        for name, value in channels.items():
            r[L.index(name)] = value
        return rig.landmarks(r)

    jaw = target(jaw_open=1.0)
    gap = lambda lm: lm[ids.LOWER_LIP_TOP, 1] - lm[ids.UPPER_LIP_BOTTOM, 1]  # noqa: E731
    assert gap(jaw) - gap(ref) > 0.25 * rig.iod
    np.testing.assert_allclose(jaw[list(ids.RIGID)], ref[list(ids.RIGID)], atol=1e-4)
    eye = lambda lm: lm[ids.LEFT_EYE_BOTTOM, 1] - lm[ids.LEFT_EYE_TOP, 1]  # noqa: E731
    blink = target(blink_l=1.0)
    assert eye(blink) < 0.1 * eye(ref)
    assert abs(blink[ids.RIGHT_EYE_TOP, 1] - ref[ids.RIGHT_EYE_TOP, 1]) < 1e-3
    closed = target(lip_close=1.0)
    assert abs(gap(closed)) < 0.3 * abs(gap(ref)) + 0.5
    smile = target(smile_l=1.0)
    assert smile[ids.MOUTH_CORNER_LEFT, 1] < ref[ids.MOUTH_CORNER_LEFT, 1] - 2
    turned = target(head_yaw=0.3)
    assert turned[ids.NOSE_TIP, 0] < ref[ids.NOSE_TIP, 0] - 3  # nose towards image left


def test_procedural_motion_follows_speech(speech_path):
    audio = load_audio(speech_path, ANALYSIS_RATE)
    m = procedural_motion(audio, ANALYSIS_RATE, 25, seed=3)
    assert m.num_frames == round(len(audio) / ANALYSIS_RATE * 25)
    assert (m.values >= L.low).all() and (m.values <= L.high).all()
    from avatarvid.media.features import loudness_db

    level = loudness_db(audio, ANALYSIS_RATE, 25, m.num_frames)
    _, speech = speech_activity(level, 25)
    jaw = m["jaw_open"]
    assert np.corrcoef(jaw, level)[0, 1] > 0.6
    assert jaw[speech].mean() > 4 * jaw[~speech].mean()
    assert m["lip_close"][~speech].mean() > 0.5
    minutes = m.num_frames / 25 / 60
    blinks = np.sum(np.diff((m["blink_l"] > 0.5).astype(int)) == 1)
    assert 8 <= blinks / minutes <= 30
    assert m["head_yaw"].std() > 0.005 and np.abs(np.diff(m["head_yaw"])).max() < 0.02


def test_procedural_motion_is_deterministic_per_seed(short_speech):
    audio = load_audio(short_speech, ANALYSIS_RATE)
    a = procedural_motion(audio, ANALYSIS_RATE, 25, seed=7).values
    b = procedural_motion(audio, ANALYSIS_RATE, 25, seed=7).values
    c = procedural_motion(audio, ANALYSIS_RATE, 25, seed=8).values
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_blinks_are_natural_on_long_silence():
    """Silence still gets idle motion: 10-25 blinks a minute, irregular, 200-400 ms each."""
    m = procedural_motion(np.zeros(ANALYSIS_RATE * 120, np.float32), ANALYSIS_RATE, 25, seed=0)
    closed = m["blink_l"] > 0.5
    starts = np.flatnonzero(np.diff(closed.astype(int)) == 1)
    assert 20 <= len(starts) <= 50  # per two minutes
    intervals = np.diff(starts) / 25
    assert intervals.std() / intervals.mean() > 0.25  # not periodic
    moving = np.diff(np.concatenate([[0], (m["blink_l"] > 0).astype(int), [0]]))
    lengths = (np.flatnonzero(moving == -1) - np.flatnonzero(moving == 1)) / 25
    assert lengths.min() >= 0.16 and lengths.max() <= 0.44  # 200-400 ms, whole frames
    assert m["jaw_open"].max() < 0.05 and m["head_yaw"].std() > 0.003
