"""The driver's lip shape that the rig's channels do not span, carried onto the photo.

The rig's mouth channels (jaw, lip close / press / funnel / pucker, corners, lips up and down)
are symmetric fields built from the photo's own lips; a driver's fit leaves the rest of its
lips' shape unexplained (a lopsided opening, one side's upper lip rising, lips rolled in).
`animate` passes that remainder on as canonical offsets (head pose undone, inter-ocular
units) since the driver's first face, faded with distance from the lips so the skin around
them follows. In self-reenactment (warp, validation clips) it moved the mouth closer to the
real one: README, "Face mode carries the driver's lip shape".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarvid.perception import landmark_ids as ids

LIPS = tuple(sorted(set(ids.LIPS_OUTER + ids.LIPS_INNER)))
# How far from the lips (canonical units) the remainder is carried, and the fade's cut-off.
# Chosen on validation (carphone + franck 180-200 s) among 0.08 / 0.15 / 0.25 and lips alone:
# mouth PSNR within 0.15 dB of each other, 0.15 the best mouth SSIM.
SIGMA = 0.15
_CUTOFF = 0.01


@dataclass(frozen=True)
class LipCarrier:
    """Which mesh points carry a face's lip remainder, and how much of their own."""

    points: np.ndarray  # (P,) mesh indices
    weights: np.ndarray  # (P,) in (0, 1]; 1 on the lips

    @classmethod
    def for_face(cls, canonical: np.ndarray) -> LipCarrier:
        """Weights from one face's canonical landmarks (rigid points never move)."""
        near = canonical[:, None, :2] - canonical[None, list(LIPS), :2]
        distance = np.linalg.norm(near, axis=2).min(axis=1)
        weights = np.exp(-(distance**2) / (2 * SIGMA**2))
        weights[list(ids.RIGID)] = 0.0
        weights[ids.NUM_MESH :] = 0.0  # the irises
        points = np.flatnonzero(weights >= _CUTOFF)
        return cls(points, weights[points].astype(np.float32))

    def take(self, remainder: np.ndarray) -> np.ndarray:
        """(478, 3) canonical remainder -> (P, 2) weighted x y offsets of the carrying points."""
        return (remainder[self.points, :2] * self.weights[:, None]).astype(np.float32)


def spread(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(P,) indices and (P, 2) offsets -> (478, 3) canonical detail for `FaceRig.landmarks`."""
    detail = np.zeros((ids.NUM_LANDMARKS, 3), np.float32)
    detail[points, :2] = offsets
    return detail
