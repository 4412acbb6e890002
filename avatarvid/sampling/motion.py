"""Sampling motion for audio of any length with the diffusion denoiser.

The audio is cut into overlapping windows; each window is denoised with DPM-Solver++ while
conditioned on the `context` frames already produced before it (temporal outpainting), and the
frames it shares with the previous window are cross-faded, so length is unbounded, seams are
smooth and memory holds one window plus the features. Classifier-free guidance on the audio,
given the context (2 passes):
    x0 = f(-, c) + s_audio * (f(a, c) - f(-, c));
with a context scale of its own (s_context != 1) it nests (3 passes):
    x0 = f(-, -) + s_audio * (f(a, -) - f(-, -)) + s_context * (f(a, c) - f(a, -)).
A real-motion prior (`load_prior`) is sampled the same way, window after window, and supplies
the channels it was trained on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler
from diffusers.utils.torch_utils import randn_tensor

from avatarvid.assets import checkpoint_path
from avatarvid.errors import CheckpointError
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.media.features import num_video_frames
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.audio_features import frame_features, silence_features
from avatarvid.motion.procedural import lowpass
from avatarvid.motion.schema import (
    EXPRESSIONS,
    HEAD_ROTATION,
    HEAD_TRANSLATION,
    MOTION_LAYOUT,
    MOUTH_CHANNELS,
    Motion,
)
from avatarvid.sampling.denoise import ModelFn, denoise
from avatarvid.sampling.schedulers import load_scheduler, solver_from_config
from avatarvid.sampling.windows import chained_starts

_HEAD = MOTION_LAYOUT.indices(HEAD_ROTATION + HEAD_TRANSLATION)
# what `expressiveness` scales: smiles and brows; not blinks (their own rate control) nor the
# mouth's articulation (at 0 the face is calm but still speaks)
_EXPRESSIVE = MOTION_LAYOUT.indices(
    tuple(e for e in EXPRESSIONS if not e.startswith("blink") and e not in MOUTH_CHANNELS)
)
_BLINKS = MOTION_LAYOUT.indices(("blink_l", "blink_r"))
# A prior's amplitude calibration, next to its weights: few-step solvers and the low-pass
# shrink samples towards the mean; per channel, the gain back to the training tracks' std
# (written by `avatarvid study eval_motion_prior --write-calibration`).
CALIBRATION = "calibration.json"


@dataclass(frozen=True)
class MotionSampling:
    """How to sample: solver steps, guidance scales, and post-hoc amplitude controls."""

    steps: int = 4  # chosen on the validation voices: lip sync as at 10 steps (r 0.889 vs 0.881)
    audio_guidance: float = 1.5
    context_guidance: float = 1.0
    expressiveness: float = 1.0
    head_motion: float = 1.0
    overlap: int = 10  # frames consecutive windows share, cross-faded
    # the prior's solver steps: 20 kept most amplitude on validation (yaw std 3.4 deg vs 3.1 at
    # 10), 10 keeps 60 s of motion under 2 s on 2 cores
    prior_steps: int = 10
    # zero-phase low-pass of the prior's samples: real heads hold 85-95 % of their power below
    # 0.5 Hz, the samples wobble at 1-2 Hz; the cutoff is the one whose spectrum matched the
    # validation tracks best (avatarvid study eval_motion_prior)
    prior_cutoff_hz: float = 1.0


@dataclass(frozen=True)
class MotionModel:
    """A denoiser with the training schedule its solver is built on, and for a prior the
    per-channel gain that restores its samples' amplitude (`CALIBRATION`), if measured."""

    model: MotionDenoiser
    schedule: Mapping
    gain: np.ndarray | None = None


def load_denoiser(
    path: str | Path = "motion", device: torch.device | str = "cpu"
) -> MotionDenoiser:
    """The shipped (or a given) checkpoint directory, checked against the motion layout, on
    `device` in eval mode. Its noise schedule: `load_scheduler(checkpoint_path(path))`."""
    path = checkpoint_path(path)
    if not (path / "config.json").is_file():
        raise CheckpointError(
            f"no motion checkpoint in {path}; run scripts/build_motion_checkpoint.sh "
            "or use --motion procedural"
        )
    model = MotionDenoiser.from_pretrained(path)
    if model.config.layout != MOTION_LAYOUT.name or model.config.layout_version != (
        MOTION_LAYOUT.version
    ):
        raise CheckpointError(f"{path} was trained for another motion layout; retrain it")
    return model.to(device).eval()


def load_prior(
    path: str | Path = "motion", device: torch.device | str = "cpu"
) -> MotionModel | None:
    """The real-motion prior shipped next to a motion checkpoint (`PATH/prior`) with its
    amplitude calibration if it has one, or None."""
    prior = checkpoint_path(path) / "prior"
    if not (prior / "config.json").is_file():
        return None
    model = load_denoiser(prior, device)
    return MotionModel(model, load_scheduler(prior).config, read_gain(prior, model.channel_names))


def read_gain(prior: Path, channels: tuple[str, ...]) -> np.ndarray | None:
    """Per-channel gains of `prior/CALIBRATION` in `channels` order (1 where absent), or None
    without the file."""
    path = prior / CALIBRATION
    if not path.is_file():
        return None
    try:
        gains = json.loads(path.read_text())["channel_gain"]
        gain = np.array([float(gains.get(c, 1.0)) for c in channels], np.float32)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{path} is not a prior calibration ({e})") from None
    if not (np.isfinite(gain).all() and (gain > 0).all()):
        raise CheckpointError(f"{path}: gains must be finite and positive")
    return gain


def motion_solver(schedule: Mapping) -> DPMSolverMultistepScheduler:
    """DPM-Solver++ (order 2) on the training schedule `schedule` (its prediction type), with
    DPM-Solver's own "linspace" timesteps: the setting the shipped checkpoint was measured at."""
    return solver_from_config(
        schedule, "dpm", algorithm_type="dpmsolver++", solver_order=2, timestep_spacing="linspace"
    )


@torch.no_grad()
def guided_x0(
    model: MotionDenoiser,
    x: torch.Tensor,
    t: torch.Tensor,
    audio: torch.Tensor,
    context: torch.Tensor,
    has_context: bool,
    settings: MotionSampling,
    audio_tokens: torch.Tensor | None = None,
) -> torch.Tensor:
    """One guided x0 prediction, running only the condition combinations the scales need:
    audio guidance given the context (2 passes) unless context has a scale of its own (3).
    `audio_tokens`: `model.embed_audio(audio)`, when the caller computed it once per window."""
    nested = has_context and settings.context_guidance != 1.0
    if nested:  # f(-,-) + s_a (f(a,-) - f(-,-)) + s_c (f(a,c) - f(a,-))
        variants = [(True, True), (True, False)]
        variants += [(False, False)] if settings.audio_guidance != 1.0 else []
    elif settings.audio_guidance != 1.0:  # f(-,c) + s_a (f(a,c) - f(-,c))
        variants = [(True, has_context), (False, has_context)]
    else:
        variants = [(True, has_context)]
    b = len(variants)
    flags = torch.tensor(variants, device=x.device)
    out = model(
        x.expand(b, -1, -1),
        t.expand(b),
        audio.expand(b, -1, -1),
        context.expand(b, -1, -1),
        flags[:, 0],
        flags[:, 1],
        audio_tokens=audio_tokens.expand(b, -1, -1) if audio_tokens is not None else None,
    )
    if nested:
        full, audio_only = out[0:1], out[1:2]
        nothing = out[2:3] if b == 3 else audio_only
        return (
            nothing
            + settings.audio_guidance * (audio_only - nothing)
            + settings.context_guidance * (full - audio_only)
        )
    if b == 1:
        return out
    return out[1:2] + settings.audio_guidance * (out[0:1] - out[1:2])


def _conditioned(
    model: MotionDenoiser,
    audio: torch.Tensor,
    context: torch.Tensor,
    has_context: bool,
    settings: MotionSampling,
) -> ModelFn:
    """The guided denoiser of one window, its conditions bound: what `denoise` calls."""
    tokens = model.embed_audio(audio)
    return lambda x, t: guided_x0(
        model, x, t.reshape(1), audio, context, has_context, settings, tokens
    )


@contextmanager
def _one_thread() -> Iterator[None]:
    """Windows are tiny (50 tokens), so intra-op threads only add synchronisation: on the
    shared 2-core machine 60 s of audio took 257 s wall with 2 threads and 7.6 s with 1."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


WindowFnFactory = Callable[[int, torch.Tensor, bool], ModelFn]


def _outpaint(
    model: MotionDenoiser,
    schedule: Mapping,
    n: int,
    steps: int,
    overlap: int,
    generator: torch.Generator,
    window_fn: WindowFnFactory,
) -> torch.Tensor:
    """(n, D) normalised motion, window after window: each denoised by `window_fn(start,
    context, has_context)` given the frames before it, the frames it shares with the previous
    window cross-faded."""
    cfg = model.config
    k, w, device = cfg.context, cfg.window, model.device
    scheduler = motion_solver(schedule)
    out = torch.zeros(n, cfg.motion_dim, device=device)
    filled = 0
    for start in chained_starts(n, w, overlap):
        context = (
            out[None, start - k : start]
            if start >= k
            else torch.zeros(1, k, cfg.motion_dim, device=device)
        )
        scheduler.set_timesteps(steps)
        shape = (1, w, cfg.motion_dim)
        x = randn_tensor(shape, generator=generator, device=device) * scheduler.init_noise_sigma
        x = denoise(window_fn(start, context, start >= k), x, scheduler, scheduler.timesteps)
        stop = min(n, start + w)
        shared = max(0, filled - start)  # frames the previous window also made: cross-fade
        fade = torch.arange(1, shared + 1, dtype=x.dtype, device=device)[:, None] / (shared + 1)
        joint = slice(start, start + shared)
        out[joint] = (1 - fade) * out[joint] + fade * x[0, :shared]
        out[start + shared : stop] = x[0, shared : stop - start]
        filled = stop
    return out


@torch.no_grad()
def sample_motion(
    model: MotionDenoiser,
    audio: np.ndarray,
    fps: float,
    seed: int = 0,
    settings: MotionSampling | None = None,
    *,
    schedule: Mapping,
    prior: MotionModel | None = None,
) -> Motion:
    """Motion for `audio` (mono float32 at ANALYSIS_RATE), one row per frame at `fps`;
    `schedule` is the model's training scheduler config (`load_scheduler(dir).config`).
    With a `prior` (`load_prior`), the channels it was trained on (head, brows, gaze) come
    from it: real people's motion where speech says little, composed with the audio model's
    lips, jaw and blinks."""
    with _one_thread():
        return _sample(model, audio, fps, seed, settings or MotionSampling(), schedule, prior)


def _sample(
    model: MotionDenoiser,
    audio: np.ndarray,
    fps: float,
    seed: int,
    settings: MotionSampling,
    schedule: Mapping,
    prior: MotionModel | None,
) -> Motion:
    cfg = model.config
    n_out = num_video_frames(len(audio), ANALYSIS_RATE, fps)
    n = num_video_frames(len(audio), ANALYSIS_RATE, cfg.fps)
    k, w = cfg.context, cfg.window
    feats = frame_features(audio, cfg.fps, n)
    padded = torch.from_numpy(np.concatenate([silence_features(k), feats, silence_features(w)]))

    def audio_window(start: int, context: torch.Tensor, has_context: bool) -> ModelFn:
        a = padded[None, start : start + k + w].to(model.device)
        return _conditioned(model, a, context, has_context, settings)

    generator = torch.Generator().manual_seed(seed)
    out = _outpaint(model, schedule, n, settings.steps, settings.overlap, generator, audio_window)
    values = model.denormalize(out).cpu().numpy()
    motion = Motion(values, cfg.fps)
    if prior is not None:
        motion = _compose(motion, prior, seed, settings)
    motion.values[:, _HEAD] *= settings.head_motion
    motion.values[:, _EXPRESSIVE] *= settings.expressiveness
    # blinks may go negative (eyes wider than the photo's) for tracked drivers; the model was
    # never shown that, so its small negative values are noise, not widening
    motion.values[:, _BLINKS] = np.maximum(motion.values[:, _BLINKS], 0.0)
    if fps != motion.fps or n_out != motion.num_frames:
        motion = motion.resampled(fps, n_out)
    return motion.clipped()


def _compose(motion: Motion, prior: MotionModel, seed: int, settings: MotionSampling) -> Motion:
    """`motion` with the prior's channels replaced by a sample of the prior (its own noise
    stream, so the audio model's channels are the same with or without it)."""
    p = prior.model
    n = max(1, round(motion.num_frames / motion.fps * p.config.fps))  # one frame at least
    generator = torch.Generator().manual_seed(seed + 1)
    unconditional = torch.zeros(1, 0, 0, device=p.device)
    flags = torch.ones(1, dtype=torch.bool, device=p.device)

    def prior_window(start: int, context: torch.Tensor, has_context: bool) -> ModelFn:
        use = flags if has_context else ~flags
        return lambda x, t: p(x, t.reshape(1), unconditional, context, ~flags, use)

    overlap = min(settings.overlap, p.config.window // 2)
    out = _outpaint(p, prior.schedule, n, settings.prior_steps, overlap, generator, prior_window)
    values = p.denormalize(out).cpu().numpy()
    smooth = np.stack([lowpass(c, settings.prior_cutoff_hz, p.config.fps) for c in values.T], 1)
    if prior.gain is not None:
        smooth *= prior.gain
    columns = MOTION_LAYOUT.indices(p.channel_names)
    sampled = Motion.zeros(n, p.config.fps)
    sampled.values[:, columns] = smooth
    if sampled.fps != motion.fps or n != motion.num_frames:
        sampled = sampled.resampled(motion.fps, motion.num_frames)
    composed = Motion(motion.values.copy(), motion.fps)
    composed.values[:, columns] = sampled.values[:, columns]
    return composed
