"""Training clips for the diffusion renderer with known ground truth, built from real photos.

For each photo, the expression rig + warp renderer animate the face along procedural motion,
and each frame is relit for its geometry under a fixed key light (`lighting.Relighter`):
those frames are the ground truth. The renderer's input is what it gets at inference: the
*reference* (a lit frame of the same animation far from the clip, its eyes, mouth or head
often pushed to another state, as a user's photo is) warped to each target geometry, plus
control maps and surface-normal maps of the target and of the reference's surface at the
target's positions. The warp carries the reference's shading
and loses what the reference state hides (closed eyes, parted or pressed lips, resampling);
the network learns to relight and restore. It cannot learn real mouth interiors, real
lighting or disocclusions: real talking-head videos teach those (`make_real_clips`: the same
arrays from a tracked real clip, its real frames the ground truth).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatarvid.data.lighting import Relighter
from avatarvid.errors import InputError
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader
from avatarvid.motion.driving import FaceMotionFitter
from avatarvid.motion.lip_detail import spread
from avatarvid.motion.procedural import ProceduralStyle, procedural_motion
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.perception.face_mesh import FaceMeshTracker
from avatarvid.perception.framing import apply_affine, frame_reference
from avatarvid.perception.pose import segment_person
from avatarvid.warp.controls import crop, draw_controls, face_box, mouth_box
from avatarvid.warp.face import FaceWarper
from avatarvid.warp.normals import FaceNormals

FRAMED = 192  # working resolution of the animation before the face box is cut out
FPS = 25.0
MIN_GAP = 50  # reference frame at least 2 s away from the clip
# How often the reference state is pushed away from the clip's, and how far (see _reference_state).
REF_CHANGE = 0.35
REF_HEAD = 0.25  # radians of extra head pitch / yaw


def _reference_state(rng: np.random.Generator, row: np.ndarray) -> np.ndarray:
    """A reference state that differs from the clip the way a user's photo does: eyes closed,
    mouth open or pressed, head turned. Neighbouring frames of one animation differ too little
    (the warp is then nearly right and there is little for the renderer to learn)."""
    row = row.copy()
    idx = MOTION_LAYOUT.index
    if rng.random() < REF_CHANGE:
        row[[idx("blink_l"), idx("blink_r")]] = rng.uniform(0.6, 1.0)
    if rng.random() < REF_CHANGE:
        row[idx("jaw_open")] = rng.uniform(0.4, 1.0)
    elif rng.random() < REF_CHANGE:
        row[[idx("lip_close"), idx("lip_press")]] = rng.uniform(0.5, 1.0, 2)
    if rng.random() < REF_CHANGE:
        row[[idx("head_pitch"), idx("head_yaw")]] += rng.uniform(-REF_HEAD, REF_HEAD, 2)
    return np.clip(row, MOTION_LAYOUT.low, MOTION_LAYOUT.high)


@dataclass
class ClipSet:
    """uint8 arrays: gt / warped / controls / normals / reference_normals (N, F, S, S, 3),
    reference (N, S, S, 3); mouth (N, 4) = y0, y1, x0, x1 of a box around the lips over the
    clip (for metrics)."""

    gt: np.ndarray
    warped: np.ndarray
    controls: np.ndarray
    normals: np.ndarray
    reference_normals: np.ndarray
    reference: np.ndarray
    mouth: np.ndarray

    def save(self, path: Path) -> None:
        np.savez_compressed(path, **self.__dict__)

    def condition_inputs(self) -> Iterator[tuple[np.ndarray, ...]]:
        """Per clip, the arrays `render.diffusion.condition` takes, in its argument order."""
        return zip(
            self.warped,
            self.controls,
            self.normals,
            self.reference_normals,
            self.reference,
            strict=True,
        )

    def subset(self, index: np.ndarray) -> ClipSet:
        """The clips at `index` (e.g. one training process's shard)."""
        return ClipSet(**{k: getattr(self, k)[index] for k in _FIELDS})

    @classmethod
    def load(cls, path: Path) -> ClipSet:
        with np.load(path) as z:
            return cls(**{k: z[k] for k in _FIELDS})


_FIELDS = ("gt", "warped", "controls", "normals", "reference_normals", "reference", "mouth")


def _union(boxes: list[tuple[slice, slice]]) -> tuple[int, int, int, int]:
    """y0, y1, x0, x1 of the box around every (rows, cols) box of a clip (the mouth's)."""
    return (
        min(b[0].start for b in boxes),
        max(b[0].stop for b in boxes),
        min(b[1].start for b in boxes),
        max(b[1].stop for b in boxes),
    )


def face_sources(paths: list[Path], min_face: int = 60) -> list[tuple[np.ndarray, np.ndarray]]:
    """(framed image, landmarks) for every face of at least `min_face` px in the photos."""
    out = []
    with FaceMeshTracker(static_image_mode=True, max_faces=5) as tracker:
        for path in paths:
            image = load_image(path)
            for face in tracker.detect(image):
                if face.height < min_face:
                    continue
                framed, affine = frame_reference(image, face, "face", FRAMED)
                out.append((framed, apply_affine(face.landmarks, affine)))
    return out


def _augment(rng: np.random.Generator, images: list[np.ndarray]) -> list[np.ndarray]:
    """Same colour change (per-channel gain, gamma) for every image of one clip. No mirroring:
    the light is fixed in camera space, so a mirrored clip would be lit from the wrong side."""
    gain = rng.uniform(0.8, 1.2, 3)
    gamma = rng.uniform(0.8, 1.25)
    return [(255 * np.clip((a / 255.0) ** gamma * gain, 0, 1)).astype(np.uint8) for a in images]


def make_clips(
    sources: list[tuple[np.ndarray, np.ndarray]],
    speech: Path,
    clips_per_source: int,
    frames: int,
    size: int,
    seed: int,
    augment: bool = True,
) -> ClipSet:
    """`clips_per_source` clips of `frames` frames for every source face."""
    rng = np.random.default_rng(seed)
    audio = load_audio(speech, ANALYSIS_RATE)
    parts: dict[str, list] = {k: [] for k in _FIELDS}
    for image, landmarks in sources:
        rig, warper, box = FaceRig(landmarks), FaceWarper(image, landmarks), face_box(landmarks)
        light = Relighter(landmarks, image.shape[:2])
        mesh = light.normals
        for _ in range(clips_per_source):
            style = ProceduralStyle(
                mouth=rng.uniform(0.8, 2.0),
                head=rng.uniform(0.5, 3.0),
                blinks_per_minute=rng.uniform(15, 50),
                brows=rng.uniform(0.5, 2.0),
                gaze=rng.uniform(0.5, 2.0),
            )
            motion = procedural_motion(audio, ANALYSIS_RATE, FPS, int(rng.integers(1 << 30)), style)
            n = motion.num_frames
            start = int(rng.integers(0, n - frames))
            far = [i for i in range(n) if i < start - MIN_GAP or i >= start + frames + MIN_GAP]
            ref_index = int(rng.choice(far))
            ref_lm = rig.landmarks(_reference_state(rng, motion.values[ref_index]))
            ref_full = light.apply(warper.render(ref_lm), ref_lm)
            ref_warper = FaceWarper(ref_full, ref_lm)
            targets = rig.landmarks(motion.values[start : start + frames])
            gt = np.stack([crop(light.apply(warper.render(t), t), box, size) for t in targets])
            warped = np.stack([crop(ref_warper.render(t), box, size) for t in targets])
            reference = crop(ref_full, box, size)
            if augment:
                gt, warped, reference = _augment(rng, [gt, warped, reference])
            boxes = [mouth_box(t, box, size) for t in targets]
            parts["gt"].append(gt)
            parts["warped"].append(warped)
            parts["controls"].append(np.stack([draw_controls(t, box, size) for t in targets]))
            ref_normals = mesh.vertex_normals(ref_lm)
            pairs = [mesh.target_and_reference_maps(t, ref_normals, box, size) for t in targets]
            parts["normals"].append(np.stack([p[0] for p in pairs]))
            parts["reference_normals"].append(np.stack([p[1] for p in pairs]))
            parts["reference"].append(reference)
            parts["mouth"].append(_union(boxes))
    return ClipSet(**{k: np.stack(v) for k, v in parts.items()})


def _real_clip(
    video: VideoReader,
    landmarks: np.ndarray,
    ref: int,
    start: int,
    frames: int,
    size: int,
) -> dict[str, np.ndarray]:
    """One clip's arrays: frame `ref` warped onto frames [start, start + frames) as `animate
    --mode face` warps a photo (the driver fitted with the reference's rig, relative mode, its
    lip remainder carried, the hair moved with the head)."""
    ref_lm = landmarks[ref]
    image = video.read([ref])[0]
    rig, box = FaceRig(ref_lm), face_box(ref_lm)
    warper = FaceWarper(image, ref_lm, segment_person(image))
    mesh = FaceNormals(ref_lm)
    ref_normals = mesh.vertex_normals(ref_lm)
    real = video.read(range(start, start + frames))
    fitter = FaceMotionFitter(None, "relative")
    fitter(ref_lm)
    readings = [fitter(x) for x in landmarks[start : start + frames]]
    assert fitter.carrier is not None
    targets = [rig.landmarks(r.residual, spread(fitter.carrier.points, r.lips)) for r in readings]
    pairs = [mesh.target_and_reference_maps(t, ref_normals, box, size) for t in targets]
    boxes = [mouth_box(t, box, size) for t in targets]
    return {
        "gt": np.stack([crop(f, box, size) for f in real]),
        "warped": np.stack([crop(warper.render(t), box, size) for t in targets]),
        "controls": np.stack([draw_controls(t, box, size) for t in targets]),
        "normals": np.stack([p[0] for p in pairs]),
        "reference_normals": np.stack([p[1] for p in pairs]),
        "reference": crop(image, box, size),
        "mouth": np.array(_union(boxes)),
    }


def make_real_clips(
    tracks: Path,
    span: tuple[float, float],
    clips: int,
    frames: int,
    size: int,
    seed: int,
    augment: bool = True,
) -> ClipSet:
    """`clips` clips of `frames` consecutive real frames of a tracked clip (`avatarvid data
    clips`: `tracks` is its .npz, the frames the .mp4 beside it), all inside the `span`
    (fractions of its length) and each with its reference frame there, >= 2 s from it.

    The ground truth is the real frames, so the network can learn what the photo warp cannot
    make: mouth interiors, real shading, the rig's fitting error. Landmarks are the clip's own
    (smoothed) tracks, at the video's resolution, which is where `animate` frames a photo of
    that size."""
    with np.load(tracks) as z:
        landmarks, fps = z["landmarks"], float(z["fps"])
    video = VideoReader(tracks.with_suffix(".mp4"))
    n = min(len(landmarks), video.num_frames)
    lo, hi = round(span[0] * n), round(span[1] * n)
    gap = round(2 * fps)
    starts = [s for s in range(lo, hi - frames + 1) if s - gap > lo or s + frames + gap < hi]
    if not starts:
        raise InputError(f"{tracks}: span {span} is too short for {frames}-frame clips")
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {k: [] for k in _FIELDS}
    for _ in range(clips):
        start = int(rng.choice(starts))
        far = [i for i in range(lo, hi) if i < start - gap or i >= start + frames + gap]
        clip = _real_clip(video, landmarks, int(rng.choice(far)), start, frames, size)
        if augment:
            clip["gt"], clip["warped"], clip["reference"] = _augment(
                rng, [clip["gt"], clip["warped"], clip["reference"]]
            )
        for k in _FIELDS:
            parts[k].append(clip[k])
    return ClipSet(**{k: np.stack(v) for k, v in parts.items()})


@dataclass(frozen=True)
class CameraAugment:
    """Per-clip changes of camera, light and face side for real training clips, drawn anew for
    every batch: one training person otherwise teaches his own colour, sharpness and face side.
    The truth and every input of a clip change together, so the correction to learn stays the
    one the warp leaves; the control and normal maps are mirrored with the frames."""

    flip: float = 0.5  # probability of a horizontal mirror
    gain: float = 0.3  # per-channel gain in [1 - gain, 1 + gain]
    gamma: float = 1.4  # gamma in [1 / gamma, gamma]
    saturation: tuple[float, float] = (0.6, 1.3)
    blur: float = 0.5  # probability of a lower-resolution camera
    downscale: tuple[float, float] = (1.5, 3.5)  # by this factor, then back up

    def __call__(
        self, rng: np.random.Generator, arrays: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """`arrays` of one clip (ClipSet fields without `mouth`, frames on axis 0 except the
        reference's): the same arrays, changed."""
        out = dict(arrays)
        if rng.random() < self.flip:
            out = {k: v[..., ::-1, :] for k, v in out.items()}
            for k in ("normals", "reference_normals"):
                out[k] = _mirrored_normals(out[k])
        gain = rng.uniform(1 - self.gain, 1 + self.gain, 3)
        gamma = float(np.exp(rng.uniform(-1, 1) * np.log(self.gamma)))
        sat = rng.uniform(*self.saturation)
        factor = rng.uniform(*self.downscale) if rng.random() < self.blur else 1.0
        for k in ("gt", "warped", "reference"):
            out[k] = _recoloured(out[k], gain, gamma, sat, factor)
        return {k: np.ascontiguousarray(v) for k, v in out.items()}


def _mirrored_normals(drawn: np.ndarray) -> np.ndarray:
    """Normal maps of a mirrored image: x (channel 0) turns the other way on the face (maps are
    (n + 1) * 127.5 there and 0 off it)."""
    out = drawn.copy()
    face = drawn.any(axis=-1)
    out[..., 0] = np.where(face, 255 - drawn[..., 0], 0)
    return out


def _recoloured(
    images: np.ndarray, gain: np.ndarray, gamma: float, saturation: float, factor: float
) -> np.ndarray:
    """(..., S, S, 3) uint8 seen through another camera: gamma, saturation, channel gains and,
    when `factor` > 1, a sensor `factor` times coarser."""
    flat = images.reshape(-1, *images.shape[-3:])
    if factor > 1:
        side = images.shape[-2]
        small = max(8, round(side / factor))
        flat = np.stack([
            cv2.resize(cv2.resize(f, (small, small), interpolation=cv2.INTER_AREA),
                       (side, side), interpolation=cv2.INTER_LINEAR)
            for f in flat
        ])  # fmt: skip
    x = (flat / 255.0) ** gamma
    grey = x.mean(axis=-1, keepdims=True)
    x = (grey + saturation * (x - grey)) * gain
    return (255 * np.clip(x, 0, 1) + 0.5).astype(np.uint8).reshape(images.shape)
