"""Head translation kept to the room the frame has round the face (motion/headroom.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatarvid.config.load import load_config
from avatarvid.motion.headroom import translation_gains, within_room
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT, Motion
from avatarvid.pipelines.vlog import perceive_reference
from avatarvid.warp.face import FaceWarper


@pytest.fixture(scope="module")
def headshot(astronaut, tmp_path_factory):
    """The astronaut cut to a tight headshot: forehead to chin, barely wider than the face."""
    path = tmp_path_factory.mktemp("headshot") / "headshot.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut[70:250, 170:330], cv2.COLOR_RGB2BGR))
    return perceive_reference(path, load_config("default"), None)


def swaying(frames: int = 24) -> Motion:
    """Head translation up to 0.6 inter-ocular distances, a little roll and a talking jaw."""
    motion = Motion.zeros(frames, 25.0)
    t = np.linspace(0, 2 * np.pi, frames)
    motion["head_tx"], motion["head_ty"] = 0.5 * np.sin(t), 0.6 * np.cos(t)
    motion["head_roll"], motion["jaw_open"] = 0.05 * np.sin(t), 0.5 * (1 + np.sin(3 * t)) / 2
    return motion


def smear(reference, motion: Motion) -> float:
    """Share of the output the warp takes from outside the photo (its edge, stretched)."""
    warper = FaceWarper(reference.framed, reference.landmarks, reference.person)
    rig = FaceRig(reference.landmarks)
    h, w = reference.framed.shape[:2]
    shares = []
    for row in motion.values:
        map_x, map_y, _ = warper.render_map(rig.landmarks(row))
        outside = (map_x < -0.5) | (map_x > w - 0.5) | (map_y < -0.5) | (map_y > h - 0.5)
        shares.append(outside.mean())
    return float(np.mean(shares))


def test_a_photo_with_room_keeps_its_motion(astronaut_path):
    reference = perceive_reference(astronaut_path, load_config("default"), None)
    shape = reference.framed.shape[:2]
    assert np.array_equal(translation_gains(reference.landmarks, shape), [1.0, 1.0])
    motion = swaying()
    assert within_room(motion, reference.landmarks, shape) is motion


def test_a_tight_headshot_moves_its_head_less_and_smears_less(headshot):
    shape = headshot.framed.shape[:2]
    gain_x, gain_y = translation_gains(headshot.landmarks, shape)
    assert 0.25 <= gain_x < 1 and 0.25 <= gain_y < 1
    motion = swaying()
    kept = within_room(motion, headshot.landmarks, shape)
    assert np.allclose(kept["head_tx"], gain_x * motion["head_tx"])
    assert np.allclose(kept["head_ty"], gain_y * motion["head_ty"])
    others = [i for i, n in enumerate(MOTION_LAYOUT.names) if n not in ("head_tx", "head_ty")]
    assert np.array_equal(kept.values[:, others], motion.values[:, others])
    assert smear(headshot, kept) < 0.6 * smear(headshot, motion)
