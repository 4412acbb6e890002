"""Real talking-face video -> clip shards: frames (mp4), tracks (npz) and a manifest.

Every frame is tracked with the product's face mesh in video mode (`FaceMeshTracker`); a run
of frames without a face longer than `MAX_GAP_SECONDS`, a scene cut (a jump in the frames'
coarse grey image) or a jump of the track (a lost face the tracker still holds) ends a clip,
and shorter gaps are filled. Within a clip the landmarks are completed and One-Euro filtered
both ways, as the face driver's are (`perception.smoothing`, `FACE_FILTER`, in inter-ocular
units; forwards only, a track trails its video by about half a frame), and each frame is
fitted with the expression rig (`FaceRig.fit`) relative to the clip's most neutral frame, so
tracks carry the motion schema the model produces. Identity split (see `clip_sources`): with
the packaged sources franck is `train`, the carphone man `validation` and the cap12/cap13 man
`held_out`, each a whole person, never split by time; the manifest states it. A build adds to
an existing manifest: clips of source files not rebuilt are kept, so one new video is tracked
alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatarvid.data.clip_sources import Source
from avatarvid.media.video import VideoReader, VideoWriter
from avatarvid.motion.driving import FACE_FILTER
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.perception import landmark_ids as ids
from avatarvid.perception.face_mesh import FaceMeshTracker
from avatarvid.perception.smoothing import fill_gaps, one_euro_both_ways

MAX_GAP_SECONDS = 0.25
MIN_CLIP_SECONDS = 1.0
SCENE_CUT = 30.0  # mean absolute change of the 32x32 grey image, 0..255
TRACK_JUMP = 0.15  # |log| of the mesh's change of size in one frame that ends a clip
EMPTY = np.zeros((ids.NUM_LANDMARKS, 3), np.float32)
SPLIT_POLICY = (
    "identity split: every clip of a person is in one split; held_out persons are never "
    "trained on and are not split by time; validation persons are never trained on and choose "
    "settings"
)


@dataclass
class Track:
    """Per-frame landmarks of one video; `found` False where no face was seen."""

    fps: float
    landmarks: np.ndarray  # (T, 478, 3) float32, pixels
    found: np.ndarray  # (T,) bool
    cuts: np.ndarray  # (T,) bool: frame i starts a new shot


def track(path: Path, max_seconds: float | None = None) -> Track:
    """Landmarks of every frame (up to `max_seconds`) and where the shot changes."""
    reader = VideoReader(path)
    limit = reader.num_frames if max_seconds is None else int(max_seconds * reader.fps)
    marks, found, cuts, prev = [], [], [], None
    with FaceMeshTracker(static_image_mode=False, max_faces=1) as tracker:
        for i, frame in enumerate(reader.stream()):
            if i >= limit:
                break
            small = cv2.resize(
                cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA
            ).astype(np.float32)
            cuts.append(prev is not None and float(np.abs(small - prev).mean()) > SCENE_CUT)
            prev = small
            faces = tracker.detect(frame)
            found.append(bool(faces))
            marks.append(faces[0].landmarks if faces else EMPTY)
    return Track(reader.fps, np.stack(marks).astype(np.float32), np.array(found), np.array(cuts))


def track_jumps(t: Track) -> np.ndarray:
    """(T,) bool: the mesh changed size by more than `TRACK_JUMP` since the frame before.

    Mediapipe's video mode holds a vanished face for a few frames, on garbage landmarks: the
    astronaut's face painted over jumped 26 % in size and closed its eyes, while real talkers
    change by at most 4 % a frame (franck, carphone, cap12, cap13)."""
    size = t.landmarks[:, :, :2].std(axis=1).mean(axis=1)
    both = t.found[1:] & t.found[:-1]
    ratio = np.log(np.maximum(size[1:], 1e-6) / np.maximum(size[:-1], 1e-6))
    return np.concatenate([[False], both & (np.abs(ratio) > TRACK_JUMP)])


def segments(t: Track) -> list[tuple[int, int]]:
    """[start, end) frame ranges between long face gaps, scene cuts and jumps of the track,
    each long enough."""
    max_gap = max(1, round(MAX_GAP_SECONDS * t.fps))
    breaks = t.cuts | track_jumps(t)
    out, start, last, n = [], None, None, len(t.found)
    for i in range(n + 1):
        cut = i < n and breaks[i]
        if start is not None and (i == n or cut or (not t.found[i] and i - last >= max_gap)):
            out.append((start, last + 1))
            start = None
        if i < n and t.found[i]:
            start = i if start is None else start
            last = i
    return [(a, b) for a, b in out if b - a >= MIN_CLIP_SECONDS * t.fps]


def fit_clip(t: Track, start: int, end: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Smoothed landmarks (T, 478, 3), rig residuals (T, D) and the reference frame of a clip."""
    lm, ok = t.landmarks[start:end], t.found[start:end]
    lm = fill_gaps(lm, np.broadcast_to(ok[:, None, None], lm.shape))
    eyes = lm[0, ids.RIGHT_EYE_OUTER, :2] - lm[0, ids.LEFT_EYE_OUTER, :2]
    iod = float(np.linalg.norm(eyes)) or 1.0
    lm = one_euro_both_ways(lm / iod, t.fps, **FACE_FILTER) * iod  # in inter-ocular units
    ref = reference_frame(lm)
    rig = FaceRig(lm[ref])
    return lm.astype(np.float32), np.stack([rig.fit(x) for x in lm]), ref


def reference_frame(lm: np.ndarray) -> int:
    """The frame with the most closed mouth and widest eyes: it plays the photo's role, and
    residuals are bounded below (jaw_open >= 0, blinks >= -0.5), so an open-mouthed reference would
    clip every closing of the mouth to zero."""
    lips = np.linalg.norm(lm[:, ids.UPPER_LIP_BOTTOM, :2] - lm[:, ids.LOWER_LIP_TOP, :2], axis=1)
    eyes = sum(
        np.linalg.norm(lm[:, up, :2] - lm[:, low, :2], axis=1)
        for up, low in (
            (ids.RIGHT_EYE_TOP, ids.RIGHT_EYE_BOTTOM),
            (ids.LEFT_EYE_TOP, ids.LEFT_EYE_BOTTOM),
        )
    )
    return int(np.argmin(lips - eyes))


def write_frames(reader: VideoReader, path: Path, start: int, end: int) -> None:
    """Frames [start, end) as an mp4 (cropped to even size), read by decord 64 at a time."""
    w, h = reader.width // 2 * 2, reader.height // 2 * 2
    with VideoWriter(path, reader.fps, w, h, crf=18) as out:
        for a in range(start, end, 64):
            for frame in reader.read(range(a, min(a + 64, end))):
                out.write(np.ascontiguousarray(frame[:h, :w]))


def build(sources: list[Source], out: Path, max_seconds: float | None = None) -> dict:
    """Track, cut and write every source's clips under `out`; returns the manifest."""
    clips, listed = [], []
    for src in sources:
        t = track(src.path, max_seconds)
        spans = segments(t)
        listed.append(
            {
                "file": src.path.name,
                "person": src.person,
                "split": src.split,
                "licence": src.licence,
                "note": src.note,
                "fps": t.fps,
                "frames_tracked": len(t.found),
                "face_fraction": float(t.found.mean()),
                "clips": len(spans),
            }
        )
        reader = VideoReader(src.path)
        folder = out / src.split
        folder.mkdir(parents=True, exist_ok=True)
        for k, (a, b) in enumerate(spans):
            name = f"{src.person}-{src.path.stem}-{k:03d}"
            lm, motion, ref = fit_clip(t, a, b)
            write_frames(reader, folder / f"{name}.mp4", a, b)
            np.savez(
                folder / f"{name}.npz",
                landmarks=lm,
                motion=motion,
                found=t.found[a:b],
                fps=np.float32(t.fps),
                start_frame=np.int64(a),
                reference_frame=np.int64(ref),
                layout=np.array(MOTION_LAYOUT.names),
            )
            clips.append(
                {
                    "id": name,
                    "person": src.person,
                    "split": src.split,
                    "source": src.path.name,
                    "start_frame": a,
                    "num_frames": b - a,
                    "fps": t.fps,
                    "frames": f"{src.split}/{name}.mp4",
                    "tracks": f"{src.split}/{name}.npz",
                }
            )
    path = out / "manifest.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    rebuilt = {s.path.name for s in sources}
    kept = [c for c in old.get("clips", []) if c["source"] not in rebuilt]
    manifest = {
        "split_policy": SPLIT_POLICY,
        "persons": {
            **{c["person"]: c["split"] for c in kept},
            **{s.person: s.split for s in sources},
        },
        "sources": [s for s in old.get("sources", []) if s["file"] not in rebuilt] + listed,
        "motion_layout": {"name": MOTION_LAYOUT.name, "version": MOTION_LAYOUT.version},
        "clips": kept + clips,
    }
    path.write_text(json.dumps(manifest, indent=1))
    return manifest
