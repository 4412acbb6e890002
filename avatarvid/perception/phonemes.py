"""Phoneme recognition on any English voice with pocketsphinx's bundled US-English model.

Used to judge lip sync by what is said rather than how loud it is: a mouth that closes on
"m" and rounds on "oo" is in sync even where loudness says nothing. Allphone mode (a phone
n-gram, no words) needs no transcript and runs offline; its phone labels are noisy but their
timing is accurate to a frame, which is what a lip-sync measure needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

RECOGNITION_RATE = 16000
_FRAME_S = 0.01  # pocketsphinx segments are counted in 10 ms frames


@dataclass(frozen=True)
class RecognisedPhone:
    """One ARPAbet phone ("AA", "M", ... or "SIL") with start/end in seconds."""

    name: str
    start: float
    end: float


def _decoder():
    """A fresh decoder per call: a reused one carries its cepstral mean over between clips,
    which would make a clip's phones depend on what was decoded before it."""
    from pocketsphinx import Decoder, get_model_path

    model = os.path.join(get_model_path(), "en-us")
    return Decoder(
        hmm=os.path.join(model, "en-us"),
        allphone=os.path.join(model, "en-us-phone.lm.bin"),
        lw=2.0,
        pip=0.3,
        beam=1e-20,
        pbeam=1e-20,
        samprate=RECOGNITION_RATE,
        loglevel="FATAL",
    )


def recognise_phones(audio: np.ndarray, rate: int = RECOGNITION_RATE) -> list[RecognisedPhone]:
    """ARPAbet phones in `audio` (mono float in [-1, 1]) with their times; noise labels dropped."""
    if rate != RECOGNITION_RATE:
        import soxr

        audio = soxr.resample(audio, rate, RECOGNITION_RATE)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    phones = []
    for seg in decoder.seg():
        name = "SIL" if seg.word.startswith(("+", "<")) or seg.word == "SIL" else seg.word
        phones.append(
            RecognisedPhone(name, seg.start_frame * _FRAME_S, (seg.end_frame + 1) * _FRAME_S)
        )
    return phones
