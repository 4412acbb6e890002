"""Speech with exact phoneme timings from libespeak-ng, through ctypes.

The synthesiser reports every phoneme it speaks (espeakEVENT_PHONEME) with its position in the
audio it returns, so the labels a motion model learns from are the synthesiser's own timing,
not a guess by a forced aligner.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

_EVENT_END_LIST = 0
_EVENT_PHONEME = 7
_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAMS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Phone:
    """One phoneme as espeak-ng spoke it: its mnemonic and start/end in seconds."""

    name: str
    start: float
    end: float


@dataclass
class Utterance:
    """Synthesised speech (mono float32 at `rate`) and the phonemes it contains, in order."""

    audio: np.ndarray
    rate: int
    phones: list[Phone]


class Espeak:
    """One libespeak-ng instance (the library is process-global, so this is a singleton)."""

    _instance: Espeak | None = None

    def __new__(cls) -> Espeak:
        if cls._instance is None:
            inst = super().__new__(cls)
            inst._setup()
            cls._instance = inst
        return cls._instance

    def _setup(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as e:
            raise RuntimeError(
                "libespeak-ng is not installed; run scripts/setup.sh (apt-get install espeak-ng)"
            ) from e
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.rate = self.lib.espeak_Initialize(_OUTPUT_SYNCHRONOUS, 200, None, _INIT_PHONEME_EVENTS)
        if self.rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise (is espeak-ng-data installed?)")
        self._samples: list[np.ndarray] = []
        self._events: list[tuple[str, int]] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]

    def _on_audio(self, wav, num_samples: int, events) -> int:
        if num_samples > 0:
            self._samples.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_END_LIST:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                name = bytes(ev.id).split(b"\0")[0].decode("utf-8", "replace")
                self._events.append((name, ev.audio_position))
            i += 1
        return 0

    def synth(
        self, text: str, voice: str = "en", rate: int = 175, pitch: int = 50, range_: int = 50
    ) -> Utterance:
        """Speaks `text` with `voice` (e.g. "en-us+f3"); rate in words/minute, pitch 0-99."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        for key, value in (("rate", rate), ("pitch", pitch), ("range", range_)):
            self.lib.espeak_SetParameter(_PARAMS[key], int(value), 0)
        self._samples, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        pcm = np.concatenate(self._samples) if self._samples else np.zeros(0, np.int16)
        audio = pcm.astype(np.float32) / 32768.0
        duration = len(audio) / self.rate
        starts = [min(ms / 1000.0, duration) for _, ms in self._events]
        ends = starts[1:] + [duration]
        phones = [
            Phone(name, s, e) for (name, _), s, e in zip(self._events, starts, ends, strict=True)
        ]
        return Utterance(audio, self.rate, phones)
