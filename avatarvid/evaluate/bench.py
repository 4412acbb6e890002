"""`avatarvid bench`: speed and peak memory of `vlog` per stage, and how they grow with length.

Each (length, size) runs in a fresh Python process so its peak RSS is its own.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from avatarvid.errors import InputError

MAX_SECONDS = 3600.0  # an hour of audio per run; memory flatness shows long before


def write_looped_speech(source: Path, seconds: float, out: Path, rate: int = 48000) -> None:
    """A wav of exactly `seconds`, the source speech repeated as needed."""
    from avatarvid.media.audio import load_audio

    speech = load_audio(source, rate)
    reps = int(np.ceil(seconds * rate / len(speech)))
    samples = np.tile(speech, reps)[: int(seconds * rate)]
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def bench_once(
    image: Path, audio: Path, seconds: float, size: int, preset: str, device: str = "auto"
) -> dict:
    """One render in this process; returns its timings and this process's peak RSS."""
    from avatarvid.config.load import load_config
    from avatarvid.pipelines.vlog import VlogRequest, render_vlog

    config = load_config(preset, size=size, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        write_looped_speech(audio, seconds, wav)
        start = time.perf_counter()
        result = render_vlog(VlogRequest(image, wav, Path(tmp) / "out.mp4", config))
        wall = time.perf_counter() - start
    return {
        "seconds": seconds,
        "size": size,
        "frames": result.num_frames,
        "wall_s": round(wall, 3),
        "fps": round(result.num_frames / wall, 2),
        "real_time_factor": round(wall / seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stages_s": result.timings,
    }


def run_benchmark(
    image: Path,
    audio: Path,
    lengths: list[float],
    sizes: list[int],
    preset: str,
    json_path: Path,
    device: str = "auto",
) -> dict:
    for label, path in (("image", image), ("audio", audio)):
        if not Path(path).is_file():
            raise InputError(f"bench {label} {path} does not exist; pass --{label}")
    from avatarvid.config.load import load_config, load_settings
    from avatarvid.config.settings import VlogConfig
    from avatarvid.pipelines.control import model_device
    from avatarvid.pipelines.paths import check_output_parent

    bad = [s for s in lengths if not (math.isfinite(s) and 0 < s <= MAX_SECONDS)]
    if bad:
        raise InputError(f"--seconds {bad[0]:g}: audio lengths must be in (0, {MAX_SECONDS}]")
    model_device(load_config(preset, device=device).device, needs_model=True)  # fail early
    for size in sizes:  # a bad size fails here, named by its flag, not after earlier runs
        overrides = {"device": device, "size": size}
        load_settings(VlogConfig, preset, overrides, flags={"size": f"--sizes {size}"})
    check_output_parent(json_path)
    runs = []
    print(
        f"{'size':>5} {'audio s':>8} {'frames':>7} {'wall s':>7} {'fps':>7} {'RTF':>6} "
        f"{'RSS MB':>7}  stages (s)"
    )
    for size in sizes:
        for seconds in lengths:
            args = json.dumps([str(image), str(audio), seconds, size, preset, device])
            proc = subprocess.run(
                [sys.executable, "-m", "avatarvid.evaluate.bench", args],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise InputError(f"bench run ({size}px, {seconds}s) failed: {tail}")
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(run)
            stages = " ".join(f"{k}={v:.2f}" for k, v in run["stages_s"].items())
            print(
                f"{size:>5} {seconds:>8g} {run['frames']:>7} {run['wall_s']:>7.2f} "
                f"{run['fps']:>7.1f} {run['real_time_factor']:>6.3f} "
                f"{run['peak_rss_mb']:>7.1f}  {stages}",
                flush=True,
            )
    growth = {}
    for size in sizes:
        by_len = sorted((r for r in runs if r["size"] == size), key=lambda r: r["seconds"])
        if len(by_len) > 1:
            growth[str(size)] = {
                "rss_longest_over_shortest": round(
                    by_len[-1]["peak_rss_mb"] / by_len[0]["peak_rss_mb"], 3
                ),
                "fps_longest_over_shortest": round(by_len[-1]["fps"] / by_len[0]["fps"], 3),
            }
    report = {
        "preset": preset,
        "device": device,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "runs": runs,
        "growth_with_length": growth,
    }
    Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
    print(f"growth with length: {json.dumps(growth)}")
    print(f"wrote {json_path}")
    return report


if __name__ == "__main__":
    img, aud, secs, px, pre, dev = json.loads(sys.argv[1])
    print(json.dumps(bench_once(Path(img), Path(aud), secs, px, pre, dev)))
