"""`vlog`: one photo + speech audio -> an mp4 of that person speaking it.

media -> perception -> motion -> render -> media, frames streamed to the encoder as they are
made, so memory stays flat however long the audio is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from avatarvid.assets import checkpoint_path
from avatarvid.config.settings import VlogConfig
from avatarvid.errors import NoFaceError
from avatarvid.media.audio import ANALYSIS_RATE, iter_audio, load_audio
from avatarvid.media.features import num_video_frames
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoWriter
from avatarvid.motion.procedural import ProceduralStyle, procedural_motion
from avatarvid.motion.rig import FaceRig
from avatarvid.motion.schema import Motion
from avatarvid.perception.face_mesh import Face, FaceMeshTracker, detect_reference_face
from avatarvid.perception.framing import apply_affine, frame_reference
from avatarvid.pipelines.output import emit
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
    output: Path
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
    """The framed photo and its landmarks: what a worker can reuse across jobs that share
    (image, crop, size, face_index)."""

    framed: np.ndarray
    landmarks: np.ndarray


# (stage, fraction done) -> None; lets a batch runner show per-job progress.
ProgressCallback = Callable[[str, float], None]


def check_paths(req: VlogRequest) -> None:
    """Fail on missing inputs or output folders before any slow work starts."""
    inputs = {"image": req.image, "audio": req.audio, "motion": req.motion_in}
    check_job_paths(inputs, req.output, {"motion output": req.motion_out})


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
    return Reference(framed, landmarks)


def make_motion(req: VlogRequest, audio: np.ndarray) -> Motion:
    """Motion from a user's file (resampled to this video), the diffusion model or the
    procedural baseline."""
    cfg = req.config
    n = num_video_frames(len(audio), ANALYSIS_RATE, cfg.fps)
    if req.motion_in is not None:
        return Motion.load(req.motion_in).resampled(cfg.fps, n).clipped()
    m = cfg.motion
    if m.generator == "diffusion":
        # torch is imported only when a model runs: the warp path stays light to start.
        from avatarvid.sampling.motion import SamplerSettings, load_denoiser, sample_motion

        settings = SamplerSettings(
            steps=m.steps,
            audio_guidance=m.audio_guidance,
            expressiveness=m.expressiveness,
            head_motion=m.head_motion,
        )
        model = load_denoiser(checkpoint_path(m.checkpoint))
        return sample_motion(model, audio, cfg.fps, seed=cfg.seed, settings=settings)
    style = ProceduralStyle(
        mouth=m.mouth,
        head=m.head * m.head_motion,
        blinks_per_minute=m.blinks_per_minute,
        brows=m.brows * m.expressiveness,
        gaze=m.gaze,
    )
    return procedural_motion(audio, ANALYSIS_RATE, cfg.fps, seed=cfg.seed, style=style)


def render_vlog(
    req: VlogRequest,
    progress: bool = True,
    reference: Reference | None = None,
    on_progress: ProgressCallback | None = None,
) -> VlogResult:
    """Renders `req` to `req.output` (atomically: a partial file never takes its name).

    `reference` skips perception when the caller already framed this photo with these
    settings (a batch worker's cache)."""
    check_paths(req)
    cfg = req.config
    timer = StageTimer()
    report = on_progress or (lambda stage, done: None)
    report("perception", 0.0)
    with timer.stage("perception"):
        if reference is None:
            reference = perceive_reference(req.image, cfg, req.face_index)
        framed, landmarks = reference.framed, reference.landmarks
    report("audio", 0.0)
    with timer.stage("audio"):
        speech = load_audio(req.audio, ANALYSIS_RATE)
    with timer.stage("motion"):
        motion = make_motion(req, speech)
        if req.motion_out is not None:
            motion.save(req.motion_out)
        rig = FaceRig(landmarks)
    height, width = framed.shape[:2]
    with timer.stage("render"):
        sr = SRStage(cfg.sr.mode, cfg.sr.scale, (height, width), cfg.sr.steps)
        warper = FaceWarper(sr.shrink(framed), landmarks / sr.scale)
        refiner = make_refiner(cfg, warper.image, landmarks / sr.scale)
    writer = VideoWriter(
        req.output,
        cfg.fps,
        width,
        height,
        audio=iter_audio(req.audio, MUX_RATE),  # decoded as the video needs it
        audio_rate=MUX_RATE,
        crf=cfg.crf,
        preset=cfg.x264_preset,
        threads=cfg.encoder_threads,
    )
    with writer:
        for i, values in enumerate(
            tqdm(motion.values, desc="rendering", unit="frame", disable=not progress, leave=False)
        ):
            if i % 25 == 0:
                report("render", i / motion.num_frames)
            with timer.stage("render"):
                target = rig.landmarks(values) / sr.scale
                rendered = refiner.push(warper.render(target), target)
            emit(rendered, sr, writer, timer)
        with timer.stage("render"):
            rendered = refiner.flush()
        report("encode", 1.0)
        emit(rendered, sr, writer, timer, last=True)
        with timer.stage("encode"):
            writer.close()
    return VlogResult(
        Path(req.output), motion.num_frames, cfg.fps, len(speech) / ANALYSIS_RATE, timer.as_dict()
    )
