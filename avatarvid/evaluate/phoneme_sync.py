"""Lip sync judged by what is said: measured mouth opening vs the opening the phonemes call for.

The loudness correlation of metrics.py rewards a mouth that simply flaps with the volume; this
one rewards closures on "m/b/p", small openings on "ee/oo" and wide ones on "ah", timed by
pocketsphinx's phone recogniser on the audio itself (any English voice, no transcript).
"""

from __future__ import annotations

import numpy as np

from avatarvid.data.espeak import Phone
from avatarvid.data.visemes import ARPABET_TO_ESPEAK, mouth_targets
from avatarvid.motion.schema import MOUTH_CHANNELS
from avatarvid.perception.phonemes import RecognisedPhone, recognise_phones

_JAW, _CLOSE = MOUTH_CHANNELS.index("jaw_open"), MOUTH_CHANNELS.index("lip_close")


def expected_mouth_opening(phones: list[RecognisedPhone], n: int, fps: float) -> np.ndarray:
    """(n,) lip opening in [0, 1] implied by the phones, coarticulated as in the motion targets."""
    spoken = [Phone(ARPABET_TO_ESPEAK.get(p.name, "_"), p.start, p.end) for p in phones]
    mouth = mouth_targets(spoken, n, fps)
    return mouth[:, _JAW] * (1.0 - mouth[:, _CLOSE])


def phoneme_opening(audio: np.ndarray, rate: int, n: int, fps: float) -> np.ndarray:
    """Expected mouth opening per video frame for speech `audio`."""
    return expected_mouth_opening(recognise_phones(audio, rate), n, fps)
