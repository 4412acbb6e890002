"""Stream frames and audio into an mp4 that plays everywhere, read videos back, and probe them."""

from __future__ import annotations

import contextlib
import math
import os
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain, islice
from pathlib import Path
from types import TracebackType

import av
import cv2  # noqa: F401  (before decord: see below)
import decord
import numpy as np
from av.video.reformatter import (
    ColorPrimaries,
    ColorRange,
    Colorspace,
    ColorTrc,
    Interpolation,
    VideoReformatter,
)

from avatarvid import stop
from avatarvid.errors import InputError, existing_file
from avatarvid.media.partials import partial_path, remove_stale_partials
from avatarvid.media.streams import open_best_stream

# decord's wheel carries its own zlib; loaded before OpenCV's, it leaves OpenCV unable to read or
# write any PNG ("libpng error: bad parameters to zlib", imread returns None). OpenCV is
# therefore imported first above, whichever module imports this one first.

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
# Rates every AAC decoder (browsers, phones, TVs) handles; others are resampled to 48 kHz.
_AAC_RATES = (44100, 48000)
_AAC_BIT_RATE = 128_000
# FFmpeg's AVCOL_SPC_BT709; PyAV exposes no enum for the codec context's matrix tag.
_AVCOL_SPC_BT709 = 1
# swscale's default YUV -> RGB path (PyAV's and decord's) truncates instead of rounding: each
# decode came out ~0.5 grey levels darker, ~1 on dark colour clips, and a downscale-encode-
# upscale-encode chain compounded it (issue 16). Accurate rounding with full-resolution chroma
# interpolation is unbiased (mean error 0.00 over all 256 greys, BT.601 and BT.709).
_RGB_FLAGS = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
_AREA_RGB_FLAGS = Interpolation.AREA | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT


class VideoWriter:
    """Streamed H.264 yuv420p + AAC mp4 writer that never leaves a half-written `path`.

    Output goes to a hidden temporary file next to `path` and is renamed over it only when
    close() finishes; any failure (or an exception inside `with`) deletes it instead. Each
    frame is encoded on write() together with the audio up to that frame's end time, so
    memory stays flat and packets interleave. Frames are converted with the BT.709 matrix
    and tagged as such, so browsers, players and decord agree on the colours instead of
    guessing a matrix from the resolution.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        audio: np.ndarray | Iterable[np.ndarray] | None = None,
        audio_rate: int = 48000,
        crf: int = 20,
        preset: str = "veryfast",
        threads: int = 0,
    ) -> None:
        self.path = Path(path)
        _check_output_path(self.path)
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"yuv420p needs an even, positive frame size, got {width}x{height}")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive and finite, got {fps}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, got {crf}")
        if preset not in X264_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
        if audio_rate <= 0:
            raise ValueError(f"audio_rate must be positive, got {audio_rate}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = one per core), got {threads}")
        self.width = width
        self.height = height
        self.fps = fps
        self._rate = Fraction(fps).limit_denominator(1001)
        self._audio_chunks, self._layout = _audio_source(audio)
        self._audio_pending = np.zeros((1 if self._layout == "mono" else 2, 0), np.float32)
        self._audio_rate = audio_rate
        self._audio_pos = 0
        self._frames_written = 0
        self._reformatter = VideoReformatter()
        remove_stale_partials(self.path.parent)
        self._tmp = partial_path(self.path, ".mp4")
        try:
            self._container: av.container.OutputContainer | None = av.open(
                str(self._tmp), "w", format="mp4", container_options={"movflags": "+faststart"}
            )
        except av.FFmpegError as exc:
            raise InputError(f"cannot create {self.path} ({exc}); check the output path") from exc
        # Runs on error, on garbage collection and at interpreter exit unless close() succeeds.
        self._cleanup = weakref.finalize(self, _discard, self._container, self._tmp)
        try:
            self._video = self._add_video_stream(crf, preset, threads)
            self._audio_stream = None if self._audio_chunks is None else self._add_audio_stream()
        except BaseException:
            self._abort()
            raise

    def _add_video_stream(self, crf: int, preset: str, threads: int) -> av.VideoStream:
        stream = self._container.add_stream(
            "libx264", rate=self._rate, options={"crf": str(crf), "preset": preset}
        )
        # x264's bytes depend on its thread count; a fixed count gives the same file on any CPU.
        if threads:
            stream.codec_context.thread_count = threads
        stream.width = self.width
        stream.height = self.height
        stream.pix_fmt = "yuv420p"
        codec = stream.codec_context
        codec.colorspace = _AVCOL_SPC_BT709
        codec.color_primaries = ColorPrimaries.BT709
        codec.color_trc = ColorTrc.BT709
        codec.color_range = ColorRange.MPEG
        return stream

    def _add_audio_stream(self) -> av.AudioStream:
        rate = self._audio_rate if self._audio_rate in _AAC_RATES else 48000
        stream = self._container.add_stream("aac", rate=rate)
        stream.layout = self._layout
        stream.bit_rate = _AAC_BIT_RATE
        return stream

    def write(self, frame: np.ndarray) -> None:
        """Encode one HxWx3 uint8 RGB frame, then the audio that plays until its end."""
        stop.raise_if_requested()
        if self._container is None:
            raise ValueError(f"write() on closed VideoWriter for {self.path}")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 frame, "
                f"got {frame.shape} {frame.dtype}"
            )
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        yuv = self._reformatter.reformat(
            rgb, format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
        yuv.pts = self._frames_written
        yuv.time_base = 1 / self._rate
        self._container.mux(self._video.encode(yuv))
        self._frames_written += 1
        self._encode_audio_until(round(self._frames_written * self._audio_rate / self._rate))

    def _encode_audio_until(self, end: int | None) -> None:
        """Encode audio samples up to `end` (None: all that is left), pulling chunks as needed."""
        if self._audio_chunks is None or self._audio_stream is None:
            return
        pending = [self._audio_pending]
        have = self._audio_pos + self._audio_pending.shape[1]
        while end is None or have < end:
            chunk = next(self._audio_chunks, None)
            if chunk is None:
                break
            pending.append(chunk)
            have += chunk.shape[1]
        buffered = np.concatenate(pending, axis=1)
        take = buffered.shape[1] if end is None else min(end - self._audio_pos, buffered.shape[1])
        self._audio_pending = buffered[:, take:]
        if take <= 0:
            return
        chunk = np.ascontiguousarray(buffered[:, :take])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self._layout)
        frame.sample_rate = self._audio_rate
        frame.pts = self._audio_pos
        frame.time_base = Fraction(1, self._audio_rate)
        self._container.mux(self._audio_stream.encode(frame))
        self._audio_pos += take

    def close(self) -> None:
        """Flush the encoders, finish the file and move it to `path`; a no-op when closed."""
        if self._container is None:
            return
        try:
            if self._frames_written == 0:
                raise ValueError(f"no frames were written to {self.path}")
            if self._audio_stream is not None:
                self._encode_audio_until(None)
                self._container.mux(self._audio_stream.encode(None))
            self._container.mux(self._video.encode(None))
            self._container.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self._abort()
            raise
        self._cleanup.detach()
        self._container = None

    def _abort(self) -> None:
        self._container = None
        self._cleanup()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def _check_output_path(path: Path) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"output directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output directory {parent} is not writable; choose another")
    if path.is_dir():
        raise InputError(f"output {path} is a directory; pass a file name like out.mp4")


def _audio_source(
    audio: np.ndarray | Iterable[np.ndarray] | None,
) -> tuple[Iterator[np.ndarray] | None, str]:
    """(iterator of planar chunks, channel layout) for an array or an iterable of chunks; the
    layout is read from the first chunk, so a decoder can be streamed straight in."""
    if audio is None:
        return None, "mono"
    chunks = iter([audio] if isinstance(audio, np.ndarray) else audio)
    first = next(chunks, None)
    if first is None:
        return iter(()), "mono"
    first = _planar_audio(first)
    layout = "mono" if len(first) == 1 else "stereo"
    return chain([first], (_planar_audio(c) for c in chunks)), layout


def _planar_audio(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, channels) -> clipped float32 (channels, samples), 1 or 2 rows."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        raise ValueError(f"audio must be (samples,) or (samples, 1|2), got {audio.shape}")
    return np.clip(audio.T, -1.0, 1.0)


def _discard(container: av.container.OutputContainer, tmp: Path) -> None:
    with contextlib.suppress(Exception):
        container.close()
    tmp.unlink(missing_ok=True)


def _check_opens(path: Path) -> None:
    """Opens `path` with PyAV first: it fails quietly on a file decord would refuse only after
    printing FFmpeg's log lines (with its build paths) to the terminal."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path} has no video stream; pass a video file")
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        raise InputError(f"cannot read video {path}; re-encode it as H.264 mp4") from None


class VideoReader:
    """RGB frames of a video: decord for random access, PyAV for one long sequential pass."""

    def __init__(self, path: str | Path) -> None:
        self.path = existing_file(path, "video")
        _check_opens(self.path)
        try:
            # decord asserts (AssertionError) on zero frames and raises DECORDError otherwise;
            # its messages carry C++ source paths, so they stay in the chained traceback only.
            self._reader = decord.VideoReader(str(self.path), ctx=decord.cpu(0))
            first = self._reader[0].asnumpy()
            # Rewind: after a random read decord keeps decoding ahead in the background, and
            # what it buffers grew with the video's length (~0.5 MB per frame of peak RSS).
            self._reader.seek(0)
        except (decord.DECORDError, RuntimeError, AssertionError, IndexError) as exc:
            raise InputError(f"cannot read video {self.path}; re-encode it as H.264 mp4") from exc
        self.num_frames: int = len(self._reader)
        self.fps: float = float(self._reader.get_avg_fps())
        self.height: int = int(first.shape[0])
        self.width: int = int(first.shape[1])

    def read(self, indices: Iterable[int]) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB frames at `indices`, in that order: decord seeks to each
        run's keyframe, so strided clips of a long video cost a few GOPs, not the whole file."""
        indices = list(indices)
        try:
            return self._reader.get_batch(indices).asnumpy()
        except (decord.DECORDError, RuntimeError, IndexError) as exc:
            where = f"frames {indices[0]}..{indices[-1]}" if indices else "its start"
            raise InputError(f"video {self.path} is corrupt near {where}; re-encode it") from exc

    def frames(self, batch_size: int = 16) -> Iterator[np.ndarray]:
        """Yield HxWx3 uint8 RGB frames in order; at most `batch_size` are decoded at once."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, self.num_frames, batch_size):
            yield from self.read(range(start, min(start + batch_size, self.num_frames)))

    def stream(self, start: int = 0, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
        """Yield HxWx3 uint8 RGB frames in order from frame `start`, decoded one at a time by
        PyAV (the frames before `start` are decoded but not converted: ~0.3 ms each).
        `size` (width, height) scales them in the same swscale pass as the colour conversion
        (area filter): for analysis of a large video this more than halves the cost of
        converting at full size and then resizing (1080x1440 to 480x640: 5.7 ms a frame
        against 12 for the conversion alone).

        For one long sequential pass next to mediapipe: decord's batched reads made the peak
        RSS grow with the video's length; this stays flat. At most `num_frames` frames, so
        arrays sized by it always fit. Colours are rounded (`to_rgb`), where decord's `read`
        truncates: use this pass where grey levels are measured or passed on (`upscale`).
        Each call opens the file anew, so several passes may run at once (one per thread).
        """
        try:
            with av.open(str(self.path)) as container:
                frames = container.decode(container.streams.video[0])
                for frame in islice(frames, start, self.num_frames):
                    yield to_rgb(frame, size)
        except av.FFmpegError as exc:
            raise InputError(f"video {self.path} is corrupt; re-encode it") from exc


def to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None = None) -> np.ndarray:
    """HxWx3 uint8 RGB of a decoded frame, rounded (not truncated), with the matrix and range
    the frame is tagged with (untagged: BT.601 limited range, as FFmpeg and decord assume);
    scaled to `size` (width, height) by an area filter when given."""
    if size is None or size == (frame.width, frame.height):
        flags, (width, height) = _RGB_FLAGS, (None, None)
    else:
        flags, (width, height) = _AREA_RGB_FLAGS, size
    rgb = frame.reformat(
        width, height, "rgb24", src_color_range=frame.color_range, interpolation=flags
    )
    return rgb.to_ndarray()


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` found; audio fields are None when the file has no audio stream."""

    video_codec: str
    pix_fmt: str | None
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    audio_codec: str | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None
    audio_duration: float | None = None


def probe(path: str | Path) -> VideoInfo:
    """Describe the first video (and audio) stream of `path` without decoding pictures.

    Frame counts and durations come from the header; containers that lack them (webm, mkv)
    are demuxed once and the packets counted, which is exact and still cheap.
    """
    path = existing_file(path, "video")
    try:
        with open_best_stream(path, "video", "pass a video file") as (container, video):
            audio = container.streams.best("audio")
            streams = [s for s in (video, audio) if s is not None]
            totals = {s.index: (s.frames, _header_duration(s)) for s in streams}
            if any(count == 0 or seconds is None for count, seconds in totals.values()):
                totals = _demux_totals(container, streams)
            return _info(video, audio, totals)
    except av.FFmpegError as exc:
        raise InputError(f"cannot read video {path} ({exc}); re-encode it as H.264 mp4") from exc


def _header_duration(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _demux_totals(
    container: av.container.InputContainer, streams: list[av.stream.Stream]
) -> dict[int, tuple[int, float | None]]:
    """Packet count and summed packet durations per stream (one packet per video frame)."""
    counts = dict.fromkeys((s.index for s in streams), 0)
    ticks = dict.fromkeys(counts, 0)
    for packet in container.demux(streams):
        if packet.size:
            counts[packet.stream.index] += 1
            ticks[packet.stream.index] += packet.duration or 0
    return {
        s.index: (counts[s.index], float(ticks[s.index] * s.time_base) or None) for s in streams
    }


def _info(
    video: av.VideoStream,
    audio: av.AudioStream | None,
    totals: dict[int, tuple[int, float | None]],
) -> VideoInfo:
    rate = video.average_rate or video.guessed_rate
    fps = float(rate) if rate else 0.0
    num_frames, duration = totals[video.index]
    if duration is None:
        duration = num_frames / fps if fps else 0.0
    audio_fields = {}
    if audio is not None:
        audio_fields = {
            "audio_codec": audio.codec_context.name,
            "audio_rate": audio.rate,
            "audio_channels": audio.channels,
            "audio_duration": totals[audio.index][1],
        }
    return VideoInfo(
        video_codec=video.codec_context.name,
        pix_fmt=video.codec_context.pix_fmt,
        width=video.width,
        height=video.height,
        fps=fps,
        num_frames=num_frames,
        duration=duration,
        **audio_fields,
    )
