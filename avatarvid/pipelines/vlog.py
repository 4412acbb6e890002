"""`vlog`: one photo + speech audio -> an mp4 of that person speaking it.

media -> perception -> motion -> render -> media, frames streamed to the encoder as they are
made, so memory stays flat however long the audio is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarvid.assets import checkpoint_path
from avatarvid.config.settings import VlogConfig
from avatarvid.errors import NoFaceError
from avatarvid.media.audio import ANALYSIS_RATE, iter_audio, load_audio
from avatarvid.media.features import num_video_frames
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoWriter
from avatarvid.motion.controls import hold_gaze, retime_blinks
from avatarvid.motion.headroom import within_room
from avatarvid.motion.procedural import ProceduralStyle, procedural_motion
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import Motion
from avatarvid.perception.face_mesh import Face, FaceMeshTracker, detect_reference_face
from avatarvid.perception.framing import apply_affine, frame_reference
from avatarvid.perception.pose import segment_person
from avatarvid.pipelines.control import Progress, check_cancel, model_device, no_progress
from avatarvid.pipelines.output import upscaled
from avatarvid.pipelines.paths import check_job_paths
from avatarvid.stages.refine import make_refiner
from avatarvid.stages.sr import SRStage
from avatarvid.timing import StageTimer
from avatarvid.warp.face import FaceWarper

log = logging.getLogger(__name__)
MUX_RATE = 48000


@dataclass
class VlogRequest:
    image: Path
    audio: Path
    output: Path | None  # None: frames only (VlogFrames), nothing is encoded
    config: VlogConfig
    face_index: int | None = None
    motion_in: Path | None = None
    motion_out: Path | None = None


@dataclass
class VlogResult:
    output: Path
    num_frames: int
    fps: float
    audio_seconds: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """The framed photo, its landmarks and person mask: what a worker can reuse across jobs
    that share (image, crop, size, face_index)."""

    framed: np.ndarray
    landmarks: np.ndarray
    person: np.ndarray | None = None  # its person probability: the warp moves the hair along


def check_paths(req: VlogRequest) -> None:
    """Fail on missing inputs or output folders before any slow work starts."""
    inputs = {"image": req.image, "audio": req.audio, "motion": req.motion_in}
    check_job_paths(inputs, req.output, {"motion output": req.motion_out})
    if req.motion_in is not None:  # a bad motion file fails before perception, not after it
        Motion.load(req.motion_in)


def prepare_reference(image: np.ndarray, config: VlogConfig, face_index: int | None):
    """(framed photo, its landmarks): framing per `config.crop`, landmarks re-detected at the
    working resolution (more precise than scaled ones), falling back to the scaled ones."""
    face = detect_reference_face(image, face_index=face_index)
    framed, affine = frame_reference(image, face, config.crop, config.size)
    mapped = apply_affine(face.landmarks, affine)
    with FaceMeshTracker(static_image_mode=True, max_faces=5) as tracker:
        candidates = tracker.detect(framed)
    centre = mapped[:, :2].mean(axis=0)
    best: Face | None = min(
        candidates,
        key=lambda f: np.linalg.norm(f.landmarks[:, :2].mean(0) - centre),
        default=None,
    )
    scale = np.linalg.norm(mapped[33, :2] - mapped[263, :2])
    if best is not None and np.linalg.norm(best.landmarks[:, :2].mean(0) - centre) < 0.3 * scale:
        return framed, best.landmarks
    return framed, mapped.astype(np.float32)


def perceive_reference(image_path: Path, config: VlogConfig, face_index: int | None) -> Reference:
    """Load the photo and frame it around the chosen face (NoFaceError names the file)."""
    image = load_image(image_path)
    try:
        framed, landmarks = prepare_reference(image, config, face_index)
    except NoFaceError as e:
        raise NoFaceError(f"{image_path}: {e}") from None
    return Reference(framed, landmarks, segment_person(framed))


def make_motion(req: VlogRequest, audio: np.ndarray, device: str = "cpu") -> Motion:
    """Motion from a user's file (resampled to this video, as the user made it), or from the
    diffusion model or the procedural baseline with the user's blink rate and gaze applied."""
    cfg = req.config
    n = num_video_frames(len(audio), ANALYSIS_RATE, cfg.fps)
    if req.motion_in is not None:
        return Motion.load(req.motion_in).resampled(cfg.fps, n).clipped()
    m = cfg.motion
    if m.generator == "diffusion":
        # torch is imported only when a model runs: the warp path stays light to start.
        from avatarvid.sampling.motion import (
            MotionSampling,
            load_denoiser,
            load_prior,
            sample_motion,
        )
        from avatarvid.sampling.schedulers import load_scheduler

        settings = MotionSampling(
            steps=m.steps,
            audio_guidance=m.audio_guidance,
            expressiveness=m.expressiveness,
            head_motion=m.head_motion,
        )
        path = checkpoint_path(m.checkpoint)
        model, schedule = load_denoiser(path, device=device), load_scheduler(path).config
        prior = load_prior(path, device=device) if m.head_style == "real" else None
        motion = sample_motion(
            model,
            audio,
            cfg.fps,
            seed=cfg.seed,
            settings=settings,
            schedule=schedule,
            prior=prior,
        )
        if m.blinks_per_minute is not None:  # else the model's own blinks
            motion = retime_blinks(motion, m.blinks_per_minute, seed=cfg.seed)
        return hold_gaze(motion, m.gaze_mode)
    style = ProceduralStyle(
        mouth=m.mouth,
        head=m.head * m.head_motion,
        blinks_per_minute=(
            ProceduralStyle.blinks_per_minute
            if m.blinks_per_minute is None
            else m.blinks_per_minute
        ),
        brows=m.brows * m.expressiveness,
        gaze=m.gaze,
    )
    motion = procedural_motion(audio, ANALYSIS_RATE, cfg.fps, seed=cfg.seed, style=style)
    return hold_gaze(motion, m.gaze_mode)


def needs_model(req: VlogRequest) -> bool:
    """Whether any network runs (then torch is imported and the device resolved)."""
    cfg = req.config
    diffusion_motion = cfg.motion.generator == "diffusion" and req.motion_in is None
    return diffusion_motion or cfg.renderer == "diffusion" or cfg.sr.mode in ("fast", "diffusion")


class VlogFrames:
    """A prepared render: perception, audio and motion run on construction; `frames()` then
    streams the final RGB frames (H, W, 3) uint8, checking `cancel` between frames.

    `reference` skips perception when the caller already framed this photo with these
    settings (a batch worker's cache, an Avatar)."""

    def __init__(
        self,
        req: VlogRequest,
        reference: Reference | None = None,
        progress: Progress = no_progress,
        cancel: threading.Event | None = None,
    ):
        cfg = req.config
        self.timer, self.progress, self.cancel = StageTimer(), progress, cancel
        self.device = model_device(cfg.device, needs_model(req))
        progress("perception", 0, None)
        with self.timer.stage("perception"):
            if reference is None:
                reference = perceive_reference(req.image, cfg, req.face_index)
        check_cancel(cancel)
        progress("audio", 0, None)
        with self.timer.stage("audio"):
            speech = load_audio(req.audio, ANALYSIS_RATE)
        self.seconds = len(speech) / ANALYSIS_RATE
        progress("motion", 0, None)
        with self.timer.stage("motion"):
            motion = make_motion(req, speech, self.device)
            if req.motion_out is not None:  # as generated: the same for any photo
                motion.save(req.motion_out)
            self.motion = within_room(motion, reference.landmarks, reference.framed.shape[:2])
            self.rig = FaceRig(reference.landmarks)
        check_cancel(cancel)
        self.height, self.width = reference.framed.shape[:2]
        with self.timer.stage("render"):
            sr = cfg.sr
            self.sr = SRStage(
                sr.mode, sr.scale, (self.height, self.width), sr.steps, self.device, sr.max_memory
            )
            scaled = reference.landmarks / self.sr.scale
            self.warper = FaceWarper(self.sr.shrink(reference.framed), scaled, reference.person)
            self.refiner = make_refiner(cfg, self.warper.image, scaled, device=self.device)

    @property
    def num_frames(self) -> int:
        return self.motion.num_frames

    def frames(self) -> Iterator[np.ndarray]:
        timer, n = self.timer, self.num_frames
        for i, values in enumerate(self.motion.values):
            check_cancel(self.cancel)
            with timer.stage("render"):
                target = self.rig.landmarks(values) / self.sr.scale
                rendered = self.refiner.push(self.warper.render(target), target)
            yield from upscaled(rendered, self.sr, timer)
            self.progress("render", i + 1, n)
        with timer.stage("render"):
            rendered = self.refiner.flush()
        yield from upscaled(rendered, self.sr, timer, last=True)


def render_vlog(
    req: VlogRequest,
    reference: Reference | None = None,
    progress: Progress = no_progress,
    cancel: threading.Event | None = None,
) -> VlogResult:
    """Renders `req` to `req.output` (atomically: a partial or cancelled file never takes its
    name, and its temporary file is removed)."""
    check_paths(req)
    job = VlogFrames(req, reference, progress, cancel)
    cfg, timer = req.config, job.timer
    writer = VideoWriter(
        req.output,
        cfg.fps,
        job.width,
        job.height,
        audio=iter_audio(req.audio, MUX_RATE),  # decoded as the video needs it
        audio_rate=MUX_RATE,
        crf=cfg.crf,
        preset=cfg.x264_preset,
        threads=cfg.encoder_threads,
    )
    with writer:
        for frame in job.frames():
            with timer.stage("encode"):
                writer.write(frame)
        progress("encode", 0, None)
        with timer.stage("encode"):
            writer.close()
    progress("encode", job.num_frames, job.num_frames)
    return VlogResult(Path(req.output), job.num_frames, cfg.fps, job.seconds, timer.as_dict())
