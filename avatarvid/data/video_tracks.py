"""Real talking-head video -> a training clip: its audio and per-frame residuals.

The face is tracked with mediapipe; the first frame with a face is the reference (it plays
the photo's role) and every frame is fitted with the expression rig (`FaceRig.fit`), so a
tracked video yields motion on exactly the layout the model produces. Frames where the
face is lost are interpolated from their neighbours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarvid.data.shards import Clip
from avatarvid.errors import InputError
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.media.features import num_video_frames
from avatarvid.media.video import VideoReader
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import Motion
from avatarvid.perception.face_mesh import FaceMeshTracker

MIN_FACE_FRACTION = 0.5


def track_video(path: Path, fps: float = 25.0) -> Clip:
    """The clip of one video, motion resampled to `fps` and cut to the audio's length."""
    reader = VideoReader(path)
    audio = load_audio(path, ANALYSIS_RATE)
    rig: FaceRig | None = None
    rows: list[np.ndarray | None] = []
    with FaceMeshTracker(static_image_mode=False, max_faces=1) as tracker:
        for frame in reader.stream():
            faces = tracker.detect(frame)
            if not faces:
                rows.append(None)
                continue
            if rig is None:
                rig = FaceRig(faces[0].landmarks)
            rows.append(rig.fit(faces[0].landmarks))
    found = np.array([r is not None for r in rows])
    if rig is None or found.mean() < MIN_FACE_FRACTION:
        raise InputError(
            f"{path}: a face is visible in {found.mean():.0%} of frames; need at least "
            f"{MIN_FACE_FRACTION:.0%} (use a talking-head video)"
        )
    values = np.zeros((len(rows), len(rig.fit(rig.reference))), np.float32)
    idx = np.flatnonzero(found)
    values[idx] = np.stack([rows[i] for i in idx])
    for c in range(values.shape[1]):
        values[:, c] = np.interp(np.arange(len(rows)), idx, values[idx, c])
    n = num_video_frames(len(audio), ANALYSIS_RATE, fps)
    motion = Motion(values, reader.fps).resampled(fps, n)
    meta = {
        "source": str(Path(path).name),
        "video_fps": reader.fps,
        "face_fraction": float(found.mean()),
        "reference_frame": int(idx[0]),
    }
    return Clip(audio, motion.values, fps, meta)
