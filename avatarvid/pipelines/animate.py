"""`animate`: a reference image follows a driving video (body pose, or face for portraits).

media -> perception (reference: pose, face mesh, segmentation; driver: streamed passes of
pose and face mesh on three threads, smoothed) -> motion (skeleton retargeting; face motion
in the shared motion contract) -> render (skinned body warp over an inpainted plate, face-mesh
warp composed on top; or the face warp alone in portrait mode; then, when chosen, the
diffusion renderer refining the face box and the SR stage) -> media (streamed H.264 + AAC).
The body itself is always the warp's: the diffusion renderer is trained on faces only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from avatarvid.config.settings import AnimateConfig
from avatarvid.errors import InputError, NoFaceError
from avatarvid.media.audio import load_audio
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoWriter, probe
from avatarvid.motion.depth_order import limbs_in_front
from avatarvid.motion.driving import DriverTrack, FaceMotionFitter, track_driver
from avatarvid.motion.feet import FootLock, planted
from avatarvid.motion.retarget import (
    START_EASE_S,
    ConfidenceEase,
    Retargeter,
    face_like,
    in_place,
    rest_lengths,
    turned_frames,
    with_virtual_joints,
)
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import HEAD_TRANSLATION, MOTION_LAYOUT, Motion
from avatarvid.perception.face_mesh import detect_reference_face
from avatarvid.perception.framing import frame_reference
from avatarvid.perception.pose import (
    TORSO,
    VISIBLE,
    PoseTracker,
    is_visible,
    segment_person,
)
from avatarvid.pipelines.control import Progress, check_cancel, model_device, no_progress
from avatarvid.pipelines.output import emit
from avatarvid.pipelines.paths import check_job_paths
from avatarvid.stages.refine import make_refiner
from avatarvid.stages.sr import SRStage
from avatarvid.timing import StageTimer
from avatarvid.warp.body import BodyWarper
from avatarvid.warp.face import FaceWarper

log = logging.getLogger(__name__)
MUX_RATE = 48000
# In body mode the skeleton places and tilts the head; the face motion keeps the rest.
_BODY_FACE_ZEROED = MOTION_LAYOUT.indices(HEAD_TRANSLATION + ("head_roll",))


@dataclass
class AnimateRequest:
    image: Path
    drive: Path
    output: Path
    config: AnimateConfig
    audio: Path | None = None
    motion_out: Path | None = None
    person: tuple[float, float] | None = None  # x, y on the driver's person to follow


@dataclass
class AnimateResult:
    output: Path
    mode: str
    num_frames: int
    fps: float
    timings: dict[str, float] = field(default_factory=dict)


def check_request(req: AnimateRequest) -> None:
    """Fail on missing inputs or output folders before any slow work starts (the settings
    were validated when AnimateConfig was made)."""
    inputs = {"image": req.image, "driving video": req.drive, "audio": req.audio}
    check_job_paths(inputs, req.output, {"motion output": req.motion_out})


@dataclass
class Reference:
    """The reference photo at output size and what perception found in it."""

    image: np.ndarray
    face: np.ndarray | None  # (478, 3)
    pose: np.ndarray | None  # (33, 3)

    @property
    def shows_body(self) -> bool:
        return self.pose is not None and is_visible(self.pose, self.image.shape[:2], TORSO)

    def shrunk(self, sr: SRStage) -> Reference:
        """The reference at the SR stage's render resolution."""
        if sr.scale == 1:
            return self
        pose = None if self.pose is None else self.pose * [1 / sr.scale, 1 / sr.scale, 1]
        face = None if self.face is None else self.face / sr.scale
        return Reference(sr.shrink(self.image), face, pose)


def perceive_reference(path: Path, size: int) -> Reference:
    image = load_image(path)
    framed, _ = frame_reference(image, None, "full", size)  # type: ignore[arg-type]
    try:
        face = detect_reference_face(framed).landmarks
    except NoFaceError:
        face = None
    with PoseTracker(static_image_mode=True) as tracker:
        pose = tracker.detect(framed)
    return Reference(framed, face, pose)


def choose_mode(req: AnimateRequest, ref: Reference) -> str:
    mode = req.config.mode
    """auto: body when the reference shows the torso down to the hips, else face."""
    if ref.face is None and ref.pose is None:
        raise InputError(f"no person found in the reference image {req.image}; use a photo of one")
    if mode == "body" and not ref.shows_body:
        raise InputError(
            f"the reference image {req.image} does not show the body down to the hips; use "
            "--mode face with a talking-head driving video, or a photo that shows the body"
        )
    if mode == "face" and ref.face is None:
        raise NoFaceError(
            f"no face found in the reference image {req.image}; --mode face needs one"
        )
    if mode != "auto":
        return mode
    return "body" if ref.shows_body else "face"


def _driver_anchor(full: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The driver skeleton (T, 35, 2) on the alignment frame: the first one with the torso
    detected."""
    torso_ok = np.isfinite(full[:, list(TORSO)]).all(axis=(1, 2)) & seen
    if not torso_ok.any():
        raise InputError("the driving video never shows the person's shoulders and hips together")
    return full[int(np.argmax(torso_ok))]


def _output_audio(req: AnimateRequest, seconds: float) -> np.ndarray | None:
    if req.audio is not None:
        audio = load_audio(req.audio, MUX_RATE)
    elif probe(req.drive).audio_codec is not None:
        audio = load_audio(req.drive, MUX_RATE)
    else:
        return None
    return audio[: int(round(seconds * MUX_RATE))]


class BodyRenderer:
    """Body warp driven by retargeted skeletons, with the face warp composed into it."""

    def __init__(self, ref: Reference, track: DriverTrack, retarget: str):
        assert ref.pose is not None
        mask = segment_person(ref.image)
        rest = with_virtual_joints(ref.pose[:, :2].astype(np.float64))
        rest[:33][ref.pose[:, 2] < VISIBLE] = np.nan
        rest_known = np.where(np.isfinite(rest), rest, with_virtual_joints(ref.pose[:, :2]))
        seen = with_virtual_joints(track.pose)
        turned = turned_frames(seen, rest_known)
        driver = face_like(seen, rest_known)
        self.front = limbs_in_front(track.depth, track.num_frames, mirrored=turned)
        fps = track.fps or 25.0
        self.joints = in_place(driver, fps)
        anchor = _driver_anchor(self.joints, track.pose_seen)
        lengths = rest_lengths(self.joints, track.pose_seen, anchor)
        ease = round(START_EASE_S * fps)
        self.retarget = Retargeter(rest_known, anchor, retarget, lengths, ease)
        self.ease = ConfidenceEase()
        self.feet = FootLock(planted(driver, fps), fps)
        self.confidence = track.pose_confidence
        self.body = BodyWarper(ref.image, mask, rest)
        self.face = (
            None if ref.face is None else (FaceWarper(ref.image, ref.face), FaceRig(ref.face))
        )
        # The face's skin weights, taken once on the photo's own landmarks: an expression moves
        # them a pixel or two, well inside the head, and weighing them every frame took 2.5 of
        # the 11 ms a 256 px frame cost.
        self.face_weights = None if ref.face is None else self.body.body_weights(ref.face[:, :2])
        self.track = track

    def __call__(self, index: int, face_motion: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The frame, and where the face's landmarks are in it (None without a face)."""
        joints = self.retarget(self.joints[index], index)
        joints = self.feet(self.ease(joints, float(self.confidence[index])), index)
        front = self.front[index]
        if self.face is None:
            return self.body.render(joints, front=front), None
        warper, rig = self.face
        values = face_motion.copy()
        values[_BODY_FACE_ZEROED] = 0.0
        face = rig.landmarks(values, self.track.lip_detail(index))
        fx, fy, mouth = warper.render_map(face)

        def through_face(map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (
                cv2.remap(fx, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
                cv2.remap(fy, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
            )

        target = face.copy()
        target[:, :2] = self.body.pose_points(face[:, :2], joints, self.face_weights)
        return self.body.render(joints, through_face, front, mouth), target


class _FaceRenderer:
    """Portrait mode: the foundation's face warp, like `vlog` with a tracked motion."""

    def __init__(self, ref: Reference, track: DriverTrack):
        assert ref.face is not None
        self.warper = FaceWarper(ref.image, ref.face, segment_person(ref.image))
        self.rig = FaceRig(ref.face)
        self.track = track

    def __call__(self, index: int, face_motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        target = self.rig.landmarks(face_motion, self.track.lip_detail(index))
        return self.warper.render(target), target


def render_animate(
    req: AnimateRequest, progress: Progress = no_progress, cancel: threading.Event | None = None
) -> AnimateResult:
    """Renders `req` to `req.output` (atomically: a partial or cancelled file never takes its
    name, and its temporary file is removed)."""
    # numpy's and scipy's OpenBLAS keep their threads spinning between the many small matrix
    # calls (the face fit, skinning): they took a core from the driver pass's mediapipe
    # threads (a 750-frame synthetic driver at 256 px: 27.7 s with 7.4 s of system time
    # against 23.7 s with 1.6 s). torch's own thread pool is left as it is.
    with threadpool_limits(limits=1, user_api="blas"):
        return _render(req, progress, cancel)


def _render(
    req: AnimateRequest, progress: Progress, cancel: threading.Event | None
) -> AnimateResult:
    check_request(req)
    cfg = req.config
    needs_model = cfg.renderer == "diffusion" or cfg.sr.mode in ("fast", "diffusion")
    device = model_device(cfg.device, needs_model)
    timer = StageTimer()
    progress("reference", 0, None)
    with timer.stage("reference"):
        full = perceive_reference(req.image, cfg.size)
        mode = choose_mode(req, full)
    if cfg.renderer == "diffusion" and full.face is None:
        raise NoFaceError(
            f"no face found in the reference image {req.image}; the diffusion renderer refines "
            "the face: use --renderer warp"
        )
    tracked = 0

    def on_tracked(n: int) -> None:
        nonlocal tracked
        check_cancel(cancel)
        tracked += n
        progress("driver", tracked, None)

    with timer.stage("driver"):
        fitter = FaceMotionFitter(full.face, cfg.retarget)
        track = track_driver(
            req.drive, fitter, need_pose=mode == "body", progress=on_tracked, person=req.person
        )
    fps = cfg.fps or (track.fps if track.fps > 0 else 25.0)
    drv_fps = track.fps if track.fps > 0 else fps
    num_out = max(1, round(track.num_frames * fps / drv_fps))
    index = np.minimum(
        np.round(np.arange(num_out) * drv_fps / fps).astype(int), track.num_frames - 1
    )
    motion = Motion(track.face[index], fps).clipped()
    if req.motion_out is not None:
        motion.save(req.motion_out)
    height, width = full.image.shape[:2]
    with timer.stage("setup"):
        sr = SRStage(
            cfg.sr.mode, cfg.sr.scale, (height, width), cfg.sr.steps, device, cfg.sr.max_memory
        )
        ref = full.shrunk(sr)
        render = (
            BodyRenderer(ref, track, cfg.retarget) if mode == "body" else _FaceRenderer(ref, track)
        )
        refiner = make_refiner(cfg, ref.image, ref.face, device=device)
        audio = _output_audio(req, num_out / fps)
    with VideoWriter(
        req.output, fps, width, height, audio=audio, audio_rate=MUX_RATE, crf=cfg.crf,
        preset=cfg.x264_preset, threads=cfg.encoder_threads,
    ) as writer:  # fmt: skip
        for k in range(num_out):
            check_cancel(cancel)
            with timer.stage("render"):
                frame, target = render(int(index[k]), motion.values[k])
                rendered = refiner.push(frame, target)
            emit(rendered, sr, writer, timer)
            progress("render", k + 1, num_out)
        with timer.stage("render"):
            rendered = refiner.flush()
        emit(rendered, sr, writer, timer, last=True)
        with timer.stage("encode"):
            writer.close()
    progress("encode", num_out, num_out)
    return AnimateResult(Path(req.output), mode, num_out, fps, timer.as_dict())
