"""Motion-adaptive temporal hold for SR output: where the low-resolution input did not change
since the previous frame, keep the previous output instead of the new one.

Sharpening amplifies the small frame-to-frame noise of a static input into visible shimmer
of invented detail; the input says where nothing moved, so there the previous output is as
good an answer and a steadier one. Where the input changes (motion, lighting) the weight
falls off as exp(-(d / tau)^2) of the local mean absolute grey change d, so moving content is
never smeared. On held-out footage (checkpoints/README.md, "sr") this lowers both the flicker
and the frame-to-frame change of the error, at a cost of about 0.002 dB.
"""

from __future__ import annotations

import cv2
import numpy as np

TAU = 0.5  # grey levels of local input change at which the hold weight is exp(-1)
SIGMA = 1.0  # low-resolution pixels: the change is averaged locally so single noisy pixels pass


class StaticHold:
    """Stateful filter over one stream: `(low-res uint8 frame, float output) -> float output`."""

    def __init__(self, tau: float = TAU, sigma: float = SIGMA):
        self.tau, self.sigma = tau, sigma
        self._low: np.ndarray | None = None
        self._out: np.ndarray | None = None

    def __call__(self, low: np.ndarray, out: np.ndarray) -> np.ndarray:
        grey = low.astype(np.float32).mean(axis=2)
        previous, held = self._low, self._out
        self._low = grey
        if previous is None or held is None or held.shape != out.shape:
            self._out = out
            return out
        change = cv2.GaussianBlur(np.abs(grey - previous), (0, 0), self.sigma)
        weight = np.exp(-np.square(change / self.tau))
        h, w = out.shape[:2]
        weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
        self._out = out + weight * (held - out)
        return self._out
