"""Which limbs pass in front of the body, frame by frame, from the driver's relative depth.

A 2D warp draws its parts in some order; drawn in a fixed one (arms over the body, legs under
it) an arm that swings behind the back still covers the torso, and a knee lifted towards the
camera disappears behind it. The driver's pose landmarks carry a relative depth (mediapipe's
z); a limb whose far joints (elbow and wrist, knee and ankle) are nearer the camera than its
girdle (shoulders, hips) by a margin is drawn in front, farther by the margin behind, and in
between it keeps its last order (hysteresis: z is noisy, a limb must not flicker).
"""

from __future__ import annotations

import numpy as np

from avatarvid.perception.pose import L_HIP, L_SHOULDER, MIRROR, R_HIP, R_SHOULDER

# (far joints, girdle joints, in front when the depth is unknown) per limb, in the order of
# warp/body.py's LIMBS: left arm, right arm, left leg, right leg.
LIMB_DEPTH = (
    ((13, 15), (L_SHOULDER, R_SHOULDER), True),
    ((14, 16), (L_SHOULDER, R_SHOULDER), True),
    ((25, 27), (L_HIP, R_HIP), False),
    ((26, 28), (L_HIP, R_HIP), False),
)
MARGIN = 0.3  # torso lengths (mediapipe z of a flat, drawn arm wanders by ~0.6)


def limbs_in_front(
    depth: np.ndarray | None, num_frames: int, mirrored: np.ndarray | None = None
) -> np.ndarray:
    """(T, 4) bool: each limb drawn in front of the body on each frame, from the (T, 33)
    `depth` (torso lengths, smaller is nearer; None or NaN: the default order). `mirrored`
    (T,) bool: the frames on which the driver was relabelled to face the other way
    (motion/retarget.py: turned_frames), where its sides swap and its depth turns round."""
    default = np.array([front for *_, front in LIMB_DEPTH])
    out = np.tile(default, (num_frames, 1))
    if depth is None:
        return out
    if mirrored is not None:
        depth = np.where(mirrored[:, None], -depth[:, MIRROR], depth)
    for limb, (far, girdle, front) in enumerate(LIMB_DEPTH):
        ahead = depth[:, list(far)].mean(axis=1) - depth[:, list(girdle)].mean(axis=1)
        state = front
        for t, d in enumerate(ahead):
            if d < -MARGIN:
                state = True
            elif d > MARGIN:
                state = False
            out[t, limb] = state
    return out
