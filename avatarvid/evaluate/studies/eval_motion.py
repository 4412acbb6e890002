"""Held-out evaluation of the motion model: procedural baseline vs untrained vs trained.

usage: avatarvid study eval_motion --data out/motion_tts --json out/motion_eval.json

Scores (see avatarvid/evaluate/motion_eval.py) on the test split (voices and texts never
trained on), clean and augmented (noise/room/band/gain) audio; then window-seam smoothness and
sampling speed for 60 s of audio, and peak memory for short vs long audio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from avatarvid.assets import checkpoint_path, examples_dir
from avatarvid.data.augment import augment
from avatarvid.data.shards import Clip, read_split
from avatarvid.evaluate.motion_eval import score, seam_smoothness
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.media.image import load_image
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.procedural import procedural_motion
from avatarvid.motion.rig import FaceRig
from avatarvid.perception.face_mesh import detect_reference_face
from avatarvid.sampling.motion import MotionSampling, load_denoiser, load_prior
from avatarvid.sampling.motion import sample_motion as _sample_motion
from avatarvid.sampling.schedulers import load_scheduler
from avatarvid.sampling.windows import chained_starts

MODULE = "avatarvid.evaluate.studies.eval_motion"  # rerun in a fresh process for peak RSS


def long_audio(clips: list[Clip], seconds: float) -> np.ndarray:
    audio = np.concatenate([c.audio for c in clips])
    return np.tile(audio, int(np.ceil(seconds * ANALYSIS_RATE / len(audio))))[
        : int(seconds * ANALYSIS_RATE)
    ]


def peak_rss_mb(checkpoint: str, data: str, seconds: float) -> float:
    """Peak RSS of a fresh process that samples `seconds` of audio."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            MODULE,
            "--data",
            data,
            "--checkpoint",
            checkpoint,
            "--rss-seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="avatarvid study eval_motion")
    p.add_argument("--data", default="out/motion_tts")
    p.add_argument("--checkpoint", default=str(checkpoint_path("motion")))
    p.add_argument("--split", default="test")
    p.add_argument("--max-clips", type=int, default=60)
    p.add_argument("--steps", type=int, default=MotionSampling.steps)
    p.add_argument("--audio-guidance", type=float, default=1.5)
    p.add_argument("--json", type=Path)
    p.add_argument("--rss-seconds", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    clips = read_split(Path(args.data), args.split)[: args.max_clips]
    trained = load_denoiser(args.checkpoint)
    sample_motion = partial(_sample_motion, schedule=load_scheduler(args.checkpoint).config)
    settings = MotionSampling(steps=args.steps, audio_guidance=args.audio_guidance)
    prior = load_prior(args.checkpoint)  # the default composition (head_style "real")
    if args.rss_seconds:
        sample_motion(trained, long_audio(clips, args.rss_seconds), 25.0, 0, settings, prior=prior)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return 0
    torch.manual_seed(0)
    untrained = MotionDenoiser.from_config(trained.config).eval()
    fps = clips[0].fps
    rig = FaceRig(detect_reference_face(load_image(examples_dir() / "astronaut.png")).landmarks)
    generators = {
        "procedural": lambda a, s: procedural_motion(a, ANALYSIS_RATE, fps, seed=s),
        "untrained": lambda a, s: sample_motion(untrained, a, fps, s, settings),
        "trained": lambda a, s: sample_motion(trained, a, fps, s, settings),
    }
    rng = np.random.default_rng(7)
    noisy = [Clip(augment(c.audio, ANALYSIS_RATE, rng, p=0.7), c.motion, c.fps) for c in clips]
    report: dict = {
        "clips": len(clips),
        "seconds": sum(len(c.audio) for c in clips) / 16000,
        "steps": args.steps,
        "audio_guidance": args.audio_guidance,
    }
    for audio_kind, data in (("clean", clips), ("augmented", noisy)):
        for name, gen in generators.items():
            t0 = time.time()
            report[f"{audio_kind}/{name}"] = score(gen, data, rig).as_dict()
            print(audio_kind, name, report[f"{audio_kind}/{name}"], f"{time.time() - t0:.0f}s")
    audio60 = long_audio(clips, 60.0)
    t0, c0 = time.time(), time.process_time()
    report["sample_60s_prior"] = prior is not None
    motion = sample_motion(trained, audio60, fps, 0, settings, prior=prior)
    report["sample_60s_wall_s"] = round(time.time() - t0, 2)
    report["sample_60s_cpu_s"] = round(time.process_time() - c0, 2)
    scale = np.array(trained.config.motion_std, np.float32)
    starts = chained_starts(motion.num_frames, trained.config.window, settings.overlap)
    seam, inside = seam_smoothness(motion.values, scale, starts, settings.overlap)
    report["seam_step"], report["inside_step"] = round(seam, 4), round(inside, 4)
    target = np.concatenate([c.motion for c in clips])[: len(motion.values)]
    step = np.linalg.norm(np.diff(target, axis=0) / scale, axis=1)
    report["target_step"] = round(float(step.mean()), 4)
    for seconds in (15.0, 120.0):
        report[f"peak_rss_mb_{int(seconds)}s"] = round(
            peak_rss_mb(args.checkpoint, args.data, seconds), 1
        )
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
