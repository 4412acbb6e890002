"""A stretch of a video as its own file, for studies that score part of a clip."""

from __future__ import annotations

from pathlib import Path

from avatarvid.media.video import VideoReader, VideoWriter


def cut(source: Path, dest: Path, first: int = 0, frames: int | None = None, crf: int = 12) -> Path:
    """Frames [first, first + frames) of `source` (to its end when `frames` is None) written
    to `dest` as H.264 at `crf`, without audio; `source` itself when that is the whole video
    (no re-encoding loss)."""
    reader = VideoReader(source)
    end = reader.num_frames if frames is None else min(first + frames, reader.num_frames)
    if first == 0 and end == reader.num_frames:
        return source
    with VideoWriter(dest, reader.fps, reader.width, reader.height, crf=crf) as writer:
        for k, frame in enumerate(reader.stream()):
            if k >= end:
                break
            if k >= first:
                writer.write(frame)
    return dest


def cut_seconds(source: Path, dest: Path, start: float, seconds: float, crf: int = 12) -> Path:
    """`cut` by time: [start, start + seconds) at the video's own frame rate."""
    fps = VideoReader(source).fps
    return cut(source, dest, round(start * fps), round(seconds * fps), crf)
