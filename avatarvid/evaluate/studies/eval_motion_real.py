"""Does rendered motion move like real people? `avatarvid eval` on renders vs real video.

usage: avatarvid study eval_motion_real --clips out/clips --tts out/motion_tts \
           --photo a.jpg --photo b.jpg --json out/motion_real.json

Real reference: the clips of `avatarvid data clips` (no audio), cut into 20 s pieces and
measured by `avatarvid eval` exactly as renders are (same tracker, same formulas): head
yaw/pitch std, angular speed, landmark jitter, blinks. Renders: speech never trained on (the
bundled example, real voices shipped in gradio's media assets joined into one clip, and two
joined pieces of the espeak-ng test split) on the astronaut and every `--photo`, with the
previous default ("before": the audio model's own head, 10 solver steps) and today's ("after":
head, brows and gaze from the real-motion prior, 6 steps). Each render's phoneme lip sync is
reported too, so the head is not bought with the lips.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from avatarvid.api import vlog
from avatarvid.assets import examples_dir
from avatarvid.data.shards import read_split
from avatarvid.evaluate.report import evaluate_talking_video
from avatarvid.evaluate.studies.eval_motion_videos import write_wav
from avatarvid.media.audio import ANALYSIS_RATE, load_audio
from avatarvid.media.video import VideoReader, VideoWriter

METRICS = (
    "yaw_std_deg",
    "pitch_std_deg",
    "roll_std_deg",
    "head_speed_deg_s",
    "jitter",
    "blinks_per_minute",
    "phoneme_sync_corr",
    "lipsync_corr",
)
PIECE_SECONDS = 20.0
VARIANTS = {"before": {"head_style": "speech", "steps": 10}, "after": {}}


def joined(parts: list[np.ndarray], pause: float = 0.4) -> np.ndarray:
    gap = np.zeros(int(pause * ANALYSIS_RATE), np.float32)
    return np.concatenate([x for p in parts for x in (p, gap)])


def speech_clips(tts: Path | None, folder: Path) -> dict[str, Path]:
    """name -> wav of every speech clip the renders use."""
    clips = {"example (espeak-ng)": examples_dir() / "speech.wav"}
    try:
        import gradio
    except ImportError:
        gradio = None
    if gradio is not None:
        media = Path(gradio.__file__).parent / "media_assets" / "audio"
        names = ("cate_blanch.mp3", "cate_blanch_2.mp3", "heath_ledger.mp3", "recording1.wav")
        voices = [load_audio(media / n, ANALYSIS_RATE) for n in names if (media / n).is_file()]
        if voices:
            clips["real voices (gradio media)"] = folder / "real_voices.wav"
            write_wav(clips["real voices (gradio media)"], joined(voices))
    if tts is not None:
        test = [c.audio for c in read_split(tts, "test")]
        for k, name in enumerate(("espeak test A", "espeak test B")):
            parts, total = [], 0
            for audio in test[k::2]:
                parts.append(audio)
                total += len(audio)
                if total >= PIECE_SECONDS * ANALYSIS_RATE:
                    break
            clips[name] = folder / f"tts_{k}.wav"
            write_wav(clips[name], joined(parts))
    return clips


def real_pieces(clips_dir: Path, folder: Path) -> list[tuple[str, str, Path, Path]]:
    """(person, split, piece.mp4, first frame.png) for 20 s pieces of every real clip."""
    manifest = json.loads((clips_dir / "manifest.json").read_text())
    out = []
    for clip in manifest["clips"]:
        reader = VideoReader(clips_dir / clip["frames"])
        size = int(PIECE_SECONDS * reader.fps)
        first = clip["num_frames"] % size if clip["split"] == "train" else 0
        # a training person's last pieces are the prior's validation part; use those
        for start in range(first, clip["num_frames"] - size + 1, size):
            if clip["split"] == "train" and start < 0.85 * clip["num_frames"]:
                continue
            path = folder / f"{clip['id']}-{start}.mp4"
            frames = reader.read(range(start, start + size))
            with VideoWriter(path, reader.fps, reader.width, reader.height, crf=18) as w:
                for frame in frames:
                    w.write(frame)
            still = folder / f"{clip['id']}-{start}.png"
            cv2.imwrite(str(still), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
            split = "validation" if clip["split"] == "train" else "test"
            out.append((clip["person"], split, path, still))
    return out


def measure(video: Path, photo: Path, audio: Path | None = None) -> dict:
    report = evaluate_talking_video(video, photo, audio).to_dict()
    return {k: report[k] for k in METRICS}


def summary(rows: list[dict]) -> dict:
    return {
        k: float(np.nanmean([r[k] if r[k] is not None else np.nan for r in rows])) for k in METRICS
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="avatarvid study eval_motion_real")
    p.add_argument(
        "--clips",
        type=Path,
        default=Path("out/clips"),
        help="`avatarvid data clips` output (real video, no audio)",
    )
    p.add_argument("--tts", type=Path, help="`avatarvid data tts` output (its test split)")
    p.add_argument(
        "--photo",
        type=Path,
        action="append",
        default=[],
        help="extra photos besides the astronaut (repeatable)",
    )
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    report: dict = {"real": [], "renders": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for person, split, video, still in real_pieces(args.clips, folder):
            row = {"person": person, "set": split, **measure(video, still)}
            report["real"].append(row)
            print("real", json.dumps(row), flush=True)
        photos = [examples_dir() / "astronaut.png", *args.photo]
        for name, wav in speech_clips(args.tts, folder).items():
            for photo in photos:
                for variant in args.variants:
                    out = folder / "render.mp4"
                    vlog(photo, wav, out, seed=0, motion=VARIANTS[variant])
                    row = {
                        "speech": name,
                        "photo": photo.name,
                        "variant": variant,
                        **measure(out, photo, wav),
                    }
                    report["renders"].append(row)
                    print("render", json.dumps(row), flush=True)
    report["summary"] = {
        "real": summary(report["real"]),
        **{v: summary([r for r in report["renders"] if r["variant"] == v]) for v in args.variants},
    }
    print(json.dumps(report["summary"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
