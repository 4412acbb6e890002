"""The real-motion prior against real head, brow and gaze tracks it never trained on.

usage: avatarvid study eval_motion_prior --clips out/clips --tts out/motion_tts \
           [--steps 10 20] [--cutoffs 0.7 1 1.5 2] --json out/motion_prior_eval.json

For each generator, 8 samples of 60 s are compared with real tracks channel by channel (head
rotation and translation, brows, gaze): amplitude (std) and speed (mean |frame-to-frame change|
per second, after a 3 Hz low-pass), each as |log(generated / real)| averaged over channels (0 =
the real statistics; 0.69 = off by a factor of 2 either way), and the head's spectrum
(`band_error`). Sets (data/real_motion.py): train = the first 85 % of the training person's
clips, validation = the rest (picks the solver steps by amplitude, then the low-pass cutoff by
`band_error`), test = the held-out person (never trained on, never used to choose).
Calibration: at the shipped sampling settings, the per-channel gain that brings the samples'
std back to the training tracks' (with their mirror images, as trained); kept
(`--write-calibration`) only if it brings the samples closer to validation. Generators, all at
the shipped settings: the trained prior with and without that gain, the same network
untrained, the audio model's own head (espeak-ng test speech), and the procedural baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from avatarvid.assets import checkpoint_path
from avatarvid.data.motion_stats import band_power
from avatarvid.data.real_motion import PRIOR_CHANNELS, centred, load_real_motion, mirrored
from avatarvid.data.shards import read_split
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.procedural import lowpass, procedural_motion
from avatarvid.motion.schema import MOTION_LAYOUT
from avatarvid.sampling.motion import (
    CALIBRATION,
    MotionModel,
    MotionSampling,
    load_denoiser,
    load_prior,
    sample_motion,
)
from avatarvid.sampling.schedulers import load_scheduler

SECONDS, SAMPLES, FPS = 60.0, 8, 25.0


def stats(tracks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel std and mean absolute speed (per second) over (T, C) tracks, the speed of
    tracks low-passed at 3 Hz (as `avatarvid eval` does: the real tracks' frame-to-frame
    tracker noise would count as motion)."""
    values = np.concatenate(tracks)
    smooth = [np.stack([lowpass(c, 3.0, FPS) for c in t.T], axis=1) for t in tracks]
    speed = np.concatenate([np.abs(np.diff(t, axis=0)) for t in smooth]) * FPS
    return values.std(0), speed.mean(0)


def distance(generated: list[np.ndarray], real: list[np.ndarray]) -> dict:
    g_std, g_speed = stats(generated)
    r_std, r_speed = stats(real)
    eps = 1e-4
    amp = np.abs(np.log((g_std + eps) / (r_std + eps)))
    spd = np.abs(np.log((g_speed + eps) / (r_speed + eps)))
    rot = [PRIOR_CHANNELS.index(n) for n in ("head_yaw", "head_pitch", "head_roll")]
    return {
        "amplitude_log_error": float(amp.mean()),
        "speed_log_error": float(spd.mean()),
        "yaw_pitch_roll_std_deg": [round(float(np.degrees(g_std[i])), 2) for i in rot],
        "real_yaw_pitch_roll_std_deg": [round(float(np.degrees(r_std[i])), 2) for i in rot],
    }


def band_error(generated: list[np.ndarray], real: list[np.ndarray]) -> float:
    """Summed |difference| of head rotations' power fractions per band (BANDS_HZ): whether the
    motion has real heads' mix of slow drift, nods and wobble, whatever its amplitude."""
    rot = [PRIOR_CHANNELS.index(n) for n in ("head_yaw", "head_pitch", "head_roll")]

    def bands(tracks: list[np.ndarray], i: int) -> np.ndarray:
        return np.mean([band_power(t[:, i], FPS)[0] for t in tracks], axis=0)

    return float(sum(np.abs(bands(generated, i) - bands(real, i)).sum() for i in rot))


def test_audio(tts: Path) -> np.ndarray:
    audio = np.concatenate([c.audio for c in read_split(tts, "test")])
    return audio[: int(SECONDS * ANALYSIS_RATE)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="avatarvid study eval_motion_prior")
    p.add_argument("--clips", type=Path, default=Path("out/clips"))
    p.add_argument("--tts", type=Path, default=Path("out/motion_tts"))
    p.add_argument("--checkpoint", default=str(checkpoint_path("motion")))
    p.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    p.add_argument("--cutoffs", type=float, nargs="+", default=[0.7, 1.0, 1.5, 2.0])
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--write-calibration",
        action="store_true",
        help=f"write prior/{CALIBRATION} if the gains bring validation closer, else remove it",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    real = load_real_motion(args.clips, FPS)
    prior = load_prior(args.checkpoint)
    if prior is None:
        raise SystemExit(f"no prior in {args.checkpoint}/prior")
    prior_dir = checkpoint_path(args.checkpoint) / "prior"
    raw = MotionModel(prior.model, prior.schedule)  # without any calibration it ships with
    audio_model = load_denoiser(args.checkpoint)
    schedule = load_scheduler(args.checkpoint).config
    audio = test_audio(args.tts)
    silence = np.zeros_like(audio)
    columns = MOTION_LAYOUT.indices(PRIOR_CHANNELS)

    def prior_samples(model: MotionModel, steps: int, cutoff: float) -> list[np.ndarray]:
        settings = MotionSampling(prior_steps=steps, prior_cutoff_hz=cutoff)
        return [
            sample_motion(
                audio_model, silence, FPS, s, settings, schedule=schedule, prior=model
            ).values[:, columns]
            for s in range(SAMPLES)
        ]

    def speech_head() -> list[np.ndarray]:
        return [
            centred(sample_motion(audio_model, audio, FPS, s, schedule=schedule).values)
            for s in range(SAMPLES)
        ]

    def procedural() -> list[np.ndarray]:
        return [
            centred(procedural_motion(audio, ANALYSIS_RATE, FPS, seed=s).values)
            for s in range(SAMPLES)
        ]

    report: dict = {"sets": real.sources, "steps": {}, "cutoff_hz": {}}
    default = MotionSampling()
    for steps in args.steps:
        report["steps"][steps] = distance(
            prior_samples(raw, steps, default.prior_cutoff_hz), real.val
        )
        print("validation, prior steps", steps, report["steps"][steps], flush=True)
    best = min(args.steps, key=lambda s: report["steps"][s]["amplitude_log_error"])
    for cutoff in args.cutoffs:
        samples = prior_samples(raw, best, cutoff)
        report["cutoff_hz"][cutoff] = {
            "band_error": band_error(samples, real.val),
            **distance(samples, real.val),
        }
        print("validation, cutoff", cutoff, report["cutoff_hz"][cutoff], flush=True)
    cutoff = min(args.cutoffs, key=lambda c: report["cutoff_hz"][c]["band_error"])
    report["chosen"] = {"steps": best, "cutoff_hz": cutoff}

    # Calibration at the shipped sampling settings: the gain back to the std of the tracks it
    # trained on (mirrored as in training, so left and right brows get the same target).
    steps, cutoff = default.prior_steps, default.prior_cutoff_hz
    uncalibrated = prior_samples(raw, steps, cutoff)
    trained_std = np.concatenate(real.train + [mirrored(t) for t in real.train]).std(0)
    gain = trained_std / np.maximum(np.concatenate(uncalibrated).std(0), 1e-6)
    calibrated = prior_samples(
        MotionModel(raw.model, raw.schedule, gain.astype(np.float32)), steps, cutoff
    )
    helps = (
        distance(calibrated, real.val)["amplitude_log_error"]
        < (distance(uncalibrated, real.val)["amplitude_log_error"])
    )
    gains = {c: round(float(g), 4) for c, g in zip(PRIOR_CHANNELS, gain, strict=True)}
    report["calibration"] = {
        "at": {"steps": steps, "cutoff_hz": cutoff},
        "chosen": helps,
        "channel_gain": gains,
    }
    print("calibration", report["calibration"], flush=True)
    if args.write_calibration and helps:
        (prior_dir / CALIBRATION).write_text(
            json.dumps(
                {"channel_gain": gains, "measured_at": report["calibration"]["at"]}, indent=1
            )
            + "\n"
        )
    elif args.write_calibration:  # a retrained prior must not keep its predecessor's gains
        (prior_dir / CALIBRATION).unlink(missing_ok=True)

    torch.manual_seed(0)
    untrained = MotionModel(MotionDenoiser.from_config(raw.model.config).eval(), raw.schedule)
    generators = {
        "prior (trained, calibrated)": lambda: calibrated,
        "prior (trained)": lambda: uncalibrated,
        "prior (untrained)": lambda: prior_samples(untrained, steps, cutoff),
        "audio model's own head": speech_head,
        "procedural": procedural,
    }
    for name, make in generators.items():
        samples = make()
        report[name] = {
            split: {
                "band_error": band_error(samples, getattr(real, split)),
                **distance(samples, getattr(real, split)),
            }
            for split in ("val", "test")
            if getattr(real, split)
        }
        print(name, json.dumps(report[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
