"""Phoneme timings -> motion targets on the shared residual layout.

Mouth: each phoneme (espeak-ng mnemonic) maps to a viseme, i.e. rig weights; visemes are blended
with Cohen-Massaro dominance functions (each viseme's influence rises before its phoneme starts,
which is anticipation, and fades after it), and bilabials force a lip closure that neighbours
cannot blend away. The rest of the face is sampled so that it correlates with prosody: blinks
and glances favour pauses, the head nods on stressed (loud) vowels and moves more while
speaking, brows lift on emphasis and at the end of questions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarvid.data.espeak import Phone
from avatarvid.media.features import loudness_db, num_video_frames
from avatarvid.motion.procedural import band_noise, lowpass, sample_blinks, sample_saccades
from avatarvid.motion.schema import MOUTH_CHANNELS, Motion


@dataclass(frozen=True)
class Viseme:
    """Rig weights of one mouth shape and how strongly it resists its neighbours."""

    jaw: float = 0.0
    close: float = 0.0
    press: float = 0.0
    funnel: float = 0.0
    pucker: float = 0.0
    stretch: float = 0.0
    lip_up: float = 0.0
    lip_down: float = 0.0
    dominance: float = 1.0

    def vector(self) -> np.ndarray:
        s = self.stretch
        return np.array(
            [
                self.jaw,
                self.close,
                self.press,
                self.funnel,
                self.pucker,
                s,
                s,
                self.lip_up,
                self.lip_down,
            ],
            np.float32,
        )


REST = Viseme(close=0.5, dominance=0.6)
_BILABIAL = Viseme(jaw=0.03, close=1.0, press=0.35, dominance=2.0)
_CONSONANTS: dict[str, Viseme] = {
    "p": _BILABIAL,
    "b": _BILABIAL,
    "m": Viseme(jaw=0.03, close=1.0, press=0.15, dominance=2.0),
    "f": Viseme(jaw=0.08, close=0.4, lip_up=0.3, dominance=1.5),
    "v": Viseme(jaw=0.08, close=0.4, lip_up=0.3, dominance=1.5),
    "T": Viseme(jaw=0.15, stretch=0.15, lip_down=0.2, dominance=2.0),
    "D": Viseme(jaw=0.15, stretch=0.15, lip_down=0.2, dominance=1.5),
    "s": Viseme(jaw=0.08, stretch=0.35, lip_up=0.15, dominance=2.0),
    "z": Viseme(jaw=0.08, stretch=0.3, lip_up=0.15, dominance=1.5),
    "S": Viseme(jaw=0.12, funnel=0.6, pucker=0.3, lip_up=0.2, dominance=2.5),
    "Z": Viseme(jaw=0.12, funnel=0.6, pucker=0.3, lip_up=0.2, dominance=2.0),
    "tS": Viseme(jaw=0.12, funnel=0.55, pucker=0.3, dominance=2.5),
    "dZ": Viseme(jaw=0.12, funnel=0.55, pucker=0.3, dominance=2.0),
    "t": Viseme(jaw=0.12, stretch=0.15, dominance=1.0),
    "d": Viseme(jaw=0.12, stretch=0.15, dominance=0.8),
    "n": Viseme(jaw=0.12, stretch=0.1, dominance=0.8),
    "l": Viseme(jaw=0.2, stretch=0.1, dominance=0.8),
    "k": Viseme(jaw=0.2, dominance=0.6),
    "g": Viseme(jaw=0.2, dominance=0.5),
    "N": Viseme(jaw=0.18, dominance=0.5),
    "h": Viseme(jaw=0.25, dominance=0.3),
    "r": Viseme(jaw=0.15, funnel=0.35, pucker=0.25, dominance=1.5),
    "w": Viseme(jaw=0.08, funnel=0.3, pucker=0.85, dominance=2.0),
    "j": Viseme(jaw=0.1, stretch=0.35, dominance=1.0),
    "?": Viseme(jaw=0.1, dominance=0.5),
}
_VOWELS: dict[str, Viseme] = {
    "a": Viseme(jaw=0.7, stretch=0.15),
    "A": Viseme(jaw=0.75),
    "E": Viseme(jaw=0.45, stretch=0.3),
    "e": Viseme(jaw=0.4, stretch=0.35),
    "@": Viseme(jaw=0.3, dominance=0.6),
    "3": Viseme(jaw=0.35, funnel=0.2),
    "V": Viseme(jaw=0.5),
    "I": Viseme(jaw=0.2, stretch=0.45),
    "i": Viseme(jaw=0.15, stretch=0.6),
    "0": Viseme(jaw=0.6, funnel=0.35),
    "O": Viseme(jaw=0.5, funnel=0.5, pucker=0.2),
    "o": Viseme(jaw=0.4, funnel=0.55, pucker=0.35),
    "U": Viseme(jaw=0.2, funnel=0.4, pucker=0.5),
    "u": Viseme(jaw=0.12, funnel=0.45, pucker=0.8),
}
_PAUSES = ("_", "_:", "_!", "_^_", "||", "|")


# pocketsphinx's ARPAbet -> espeak-ng mnemonics, so recognised speech uses the same visemes.
ARPABET_TO_ESPEAK = {
    "AA": "A:", "AE": "a", "AH": "V", "AO": "O:", "AW": "aU", "AY": "aI", "B": "b", "CH": "tS",
    "D": "d", "DH": "D", "EH": "E", "ER": "3:", "EY": "eI", "F": "f", "G": "g", "HH": "h",
    "IH": "I", "IY": "i:", "JH": "dZ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "N",
    "OW": "oU", "OY": "OI", "P": "p", "R": "r", "S": "s", "SH": "S", "T": "t", "TH": "T",
    "UH": "U", "UW": "u:", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "Z", "SIL": "_",
}  # fmt: skip


def _vowel_parts(name: str) -> list[Viseme] | None:
    """A vowel's visemes: one for a monophthong, two for a diphthong (aI -> a ... I)."""
    core = name.replace(":", "").replace("#", "").replace("L", "").replace("'", "")
    if not core:
        return None
    if core in ("aI", "aU", "eI", "OI", "oU", "e@", "I@", "U@", "A@", "o@", "O@", "aI@", "aU@"):
        return [_VOWELS.get(c, _VOWELS["@"]) for c in core[:2]]
    if core[0] in _VOWELS and (len(core) == 1 or core[1] in "@#2"):
        return [_VOWELS[core[0]]]
    return None


def phone_visemes(name: str) -> list[Viseme]:
    """Visemes for one espeak-ng phoneme mnemonic (unknown symbols fall back to a neutral mouth)."""
    if name in _PAUSES or name.startswith("_"):
        return [REST]
    if name in _CONSONANTS:
        return [_CONSONANTS[name]]
    core = name.rstrip("#;")
    if core in _CONSONANTS:
        return [_CONSONANTS[core]]
    parts = _vowel_parts(name)
    if parts is not None:
        return parts
    if core[:1] in _CONSONANTS:
        return [_CONSONANTS[core[:1]]]
    return [Viseme(jaw=0.2, dominance=0.5)]


def is_vowel(name: str) -> bool:
    return not name.startswith("_") and _vowel_parts(name) is not None and name not in _CONSONANTS


def is_bilabial(name: str) -> bool:
    return name in ("p", "b", "m")


def mouth_targets(
    phones: list[Phone], n: int, fps: float, stress: np.ndarray | None = None
) -> np.ndarray:
    """(n, len(MOUTH_CHANNELS)) coarticulated mouth weights at frame times i / fps.

    `stress` (n,) in [0, 1] scales vowel jaw opening (louder syllables open wider).
    """
    t = np.arange(n) / fps
    keys, centres, spans, doms = [], [], [], []
    for ph in phones:
        parts = phone_visemes(ph.name)
        dur = max(ph.end - ph.start, 1e-3)
        for k, vis in enumerate(parts):
            centre = ph.start + dur * (k + 0.5) / len(parts)
            vec = vis.vector()
            if stress is not None and is_vowel(ph.name):
                i = min(n - 1, int(round(centre * fps)))
                vec[0] *= 0.7 + 0.6 * float(stress[i])
            keys.append(vec)
            centres.append(centre)
            spans.append(dur / len(parts))
            doms.append(vis.dominance)
    if not keys:
        return np.tile(REST.vector(), (n, 1))
    keys_a, c = np.stack(keys), np.array(centres)
    half = np.maximum(np.array(spans) / 2, 0.02)
    dt = t[:, None] - c[None, :]
    # Anticipation: influence reaches further ahead of a phoneme (dt < 0) than after it.
    reach = np.where(dt < 0, half + 0.07, half + 0.04)
    weight = np.array(doms)[None, :] * np.exp(-((np.abs(dt) / reach) ** 1.5))
    out = (weight @ keys_a) / np.maximum(weight.sum(1, keepdims=True), 1e-9)
    for ph in phones:  # bilabial closures are never blended away
        if is_bilabial(ph.name):
            i = int(round((ph.start + ph.end) / 2 * fps))
            if 0 <= i < n:
                out[i] = np.maximum(out[i], _CONSONANTS[ph.name].vector())
                out[i, 0] = min(out[i, 0], 0.05)
    return out.astype(np.float32)


def pause_mask(phones: list[Phone], n: int, fps: float, min_s: float = 0.12) -> np.ndarray:
    """Frames inside a pause of at least `min_s` (or before the first / after the last phone)."""
    mask = np.ones(n, bool)
    for ph in phones:
        if not (ph.name.startswith("_") and ph.end - ph.start >= min_s):
            a, b = int(np.floor(ph.start * fps)), int(np.ceil(ph.end * fps))
            mask[max(a, 0) : max(b, 0)] = False
    return mask


def motion_targets(
    audio: np.ndarray,
    rate: int,
    phones: list[Phone],
    fps: float,
    rng: np.random.Generator,
    question: bool = False,
) -> Motion:
    """The full training target for one utterance: mouth from phonemes, the rest from prosody."""
    n = num_video_frames(len(audio), rate, fps)
    level = loudness_db(audio, rate, fps, n)
    stress = np.clip((level - (level.max() - 25.0)) / 25.0, 0.0, 1.0)
    motion = Motion.zeros(n, fps)
    mouth = mouth_targets(phones, n, fps, stress)
    for k, name in enumerate(MOUTH_CHANNELS):
        motion[name] = mouth[:, k]
    pauses = pause_mask(phones, n, fps)
    speaking = lowpass((~pauses).astype(np.float32), 1.5, fps).clip(0, 1)

    onsets = np.diff(pauses.astype(np.int8), prepend=0) > 0
    blink = sample_blinks(rng, n, fps, rng.uniform(10.0, 24.0), onsets)
    motion["blink_l"] = blink
    motion["blink_r"] = blink * rng.uniform(0.95, 1.0)
    gx, gy = sample_saccades(rng, n, fps)
    motion["gaze_x"], motion["gaze_y"] = gx * rng.uniform(0.5, 1.2), gy

    # Stressed vowels: local loudness maxima among vowel centres.
    emphasis = np.zeros(n, np.float32)
    for ph in phones:
        i = int(round((ph.start + ph.end) / 2 * fps))
        if is_vowel(ph.name) and 0 <= i < n and stress[i] > 0.75:
            emphasis[i] = stress[i]
    nods = lowpass(np.convolve(emphasis, np.hanning(7), mode="same"), 3.0, fps)
    ending = np.zeros(n, np.float32)
    if question:
        speech_frames = np.flatnonzero(~pauses)
        if len(speech_frames):
            last = speech_frames[-1]
            ending[max(0, last - int(0.6 * fps)) : last + int(0.4 * fps)] = 1.0
            ending = lowpass(ending, 2.0, fps)
    head = rng.uniform(0.6, 1.4)
    energy = 0.35 + 0.65 * speaking
    motion["head_pitch"] = head * (
        0.05 * energy * band_noise(rng, n, fps, 0.1, 0.5) + 0.05 * nods - 0.03 * ending
    )
    motion["head_yaw"] = head * 0.08 * energy * band_noise(rng, n, fps, 0.05, 0.35)
    motion["head_roll"] = head * (
        0.035 * energy * band_noise(rng, n, fps, 0.05, 0.3) + rng.choice([-1, 1]) * 0.04 * ending
    )
    motion["head_tx"] = head * 0.03 * band_noise(rng, n, fps, 0.05, 0.2)
    breathing = np.sin(2 * np.pi * 0.25 * np.arange(n) / fps + rng.uniform(0, 2 * np.pi))
    motion["head_ty"] = head * (0.015 * band_noise(rng, n, fps, 0.05, 0.2) + 0.006 * breathing)
    brows = np.clip(lowpass(np.convolve(emphasis, np.hanning(9), mode="same"), 2.0, fps), 0, 1)
    brows = np.clip(0.6 * brows + 0.8 * ending, 0, 1)
    motion["brow_inner_up"] = 0.35 * brows
    motion["brow_outer_up_l"] = 0.25 * brows
    motion["brow_outer_up_r"] = 0.25 * brows
    motion["smile_l"] = motion["smile_r"] = np.full(n, rng.uniform(0.0, 0.25), np.float32)
    return motion.clipped()
