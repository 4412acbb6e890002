"""`avatarvid eval` on rendered videos of held-out speech: which motion generator lip-syncs best.

usage: avatarvid study eval_motion_videos --data out/motion_tts --json out/x.json

Each test-split clip (voices and texts never trained on) is rendered with the warp renderer at
256 px from the astronaut photo, once per motion source: the procedural baseline, the untrained
and the trained diffusion model, and the phoneme-derived target itself (the best a generator
can do). `avatarvid eval` then measures both lip-sync correlations of every video: mouth opening
vs loudness, and vs the opening that pocketsphinx's recognised phonemes call for.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import wave
from functools import partial
from pathlib import Path

import numpy as np
import torch

from avatarvid.assets import checkpoint_path, examples_dir
from avatarvid.cli import main as cli
from avatarvid.data.shards import read_split
from avatarvid.evaluate.report import evaluate_talking_video
from avatarvid.media.audio import ANALYSIS_RATE
from avatarvid.models.motion_denoiser import MotionDenoiser
from avatarvid.motion.procedural import procedural_motion
from avatarvid.motion.schema import Motion
from avatarvid.sampling.motion import MotionSampling, load_denoiser
from avatarvid.sampling.motion import sample_motion as _sample_motion
from avatarvid.sampling.schedulers import load_scheduler

METRICS = ("lipsync_corr", "lipsync_lag_frames", "phoneme_sync_corr", "phoneme_sync_lag_frames")


def write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(ANALYSIS_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="avatarvid study eval_motion_videos")
    p.add_argument("--data", default="out/motion_tts")
    p.add_argument("--checkpoint", default=str(checkpoint_path("motion")))
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--min-seconds", type=float, default=4.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    photo = examples_dir() / "astronaut.png"
    clips = [c for c in read_split(Path(args.data), "test") if len(c.audio) >= 16000 * 4.0]
    clips = clips[: args.clips]
    trained = load_denoiser(args.checkpoint)
    sample_motion = partial(_sample_motion, schedule=load_scheduler(args.checkpoint).config)
    torch.manual_seed(0)
    untrained = MotionDenoiser.from_config(trained.config).eval()
    settings = MotionSampling()
    sources = {
        "procedural": lambda c, s: procedural_motion(c.audio, ANALYSIS_RATE, c.fps, seed=s),
        "untrained": lambda c, s: sample_motion(untrained, c.audio, c.fps, s, settings),
        "trained": lambda c, s: sample_motion(trained, c.audio, c.fps, s, settings),
        "phoneme target": lambda c, s: Motion(c.motion, c.fps),
    }
    rows: dict[str, dict[str, list[float]]] = {k: {m: [] for m in METRICS} for k in sources}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i, clip in enumerate(clips):
            write_wav(work / "a.wav", clip.audio)
            for name, make in sources.items():
                make(clip, i).save(work / "m.npz")
                video = work / "v.mp4"
                vlog_argv = [
                    "vlog",
                    "--image",
                    str(photo),
                    "--audio",
                    str(work / "a.wav"),
                    "-o",
                    str(video),
                    "--motion-in",
                    str(work / "m.npz"),
                    "-q",
                ]
                if cli(vlog_argv) != 0:
                    raise SystemExit(f"render failed: {vlog_argv}")
                report = evaluate_talking_video(video, photo).to_dict()
                for m in METRICS:
                    rows[name][m].append(report[m])
            print(f"clip {i + 1}/{len(clips)}", flush=True)
    seconds = sum(len(c.audio) for c in clips) / ANALYSIS_RATE
    summary = {"clips": len(clips), "seconds": round(seconds, 1)}
    for name, values in rows.items():
        summary[name] = {m: round(float(np.mean(v)), 3) for m, v in values.items()}
        summary[name]["abs_lag_max"] = int(max(abs(x) for x in values["phoneme_sync_lag_frames"]))
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
