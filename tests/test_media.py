"""Media layer against real Pillow / PyAV / decord on small generated files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import avatarvid
from avatarvid.errors import InputError
from avatarvid.evaluate.clip_cut import cut, cut_seconds
from avatarvid.media.audio import ANALYSIS_RATE, iter_audio, load_audio
from avatarvid.media.image import MIN_SIDE, WORK_MAX_SIDE, load_image
from avatarvid.media.video import VideoReader, VideoWriter, probe

RED = (255, 0, 0)
BLUE = (0, 0, 255)
TONE_HZ = 440.0


def sine(rate: int, seconds: float, hz: float = TONE_HZ, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum)) * rate / len(samples)


def write_audio(
    path: Path, codec: str, rate: int, samples: np.ndarray, *, stereo: bool = False, **options
) -> Path:
    """Encode `samples` (mono) with PyAV; `stereo` duplicates them on both channels."""
    layout = "stereo" if stereo else "mono"
    planes = np.stack([samples, samples]) if stereo else samples[None]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def moving_frames(n: int, width: int, height: int) -> list[np.ndarray]:
    """Smooth gradients that shift every frame: compressible, yet each frame is distinct."""
    y, x = np.mgrid[0:height, 0:width]
    return [
        np.stack([(x * 4 + i * 8) % 256, (y * 4) % 256, np.full_like(x, 40 + i * 5)], -1).astype(
            np.uint8
        )
        for i in range(n)
    ]


def write_video(path: Path, frames: list[np.ndarray], fps: float, **kwargs) -> Path:
    height, width = frames[0].shape[:2]
    with VideoWriter(path, fps, width, height, **kwargs) as writer:
        for frame in frames:
            writer.write(frame)
    return path


# ---------------------------------------------------------------- images


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = Image.new("RGB", (100, 80), BLUE)
    stored.paste(RED, (0, 0, 50, 80))  # red left half as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    stored.save(tmp_path / "rotated.jpg", exif=exif, quality=95)

    rgb = load_image(tmp_path / "rotated.jpg")

    assert rgb.shape == (100, 80, 3) and rgb.dtype == np.uint8
    assert rgb[10, 40, 0] > 200 and rgb[10, 40, 2] < 50  # left half went to the top
    assert rgb[90, 40, 2] > 200 and rgb[90, 40, 0] < 50


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_flattened_onto_white(tmp_path: Path, mode: str) -> None:
    if mode == "P":
        img = Image.new("P", (80, 80), 0)
        img.putpalette([0, 0, 0, 255, 0, 0])
        img.paste(1, (40, 0, 80, 80))
        img.save(tmp_path / "in.png", transparency=0)
    else:
        rgba = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
        rgba.paste((255, 0, 0, 255), (40, 0, 80, 80))
        (rgba if mode == "RGBA" else rgba.convert("LA")).save(tmp_path / "in.png")

    rgb = load_image(tmp_path / "in.png")

    assert rgb.shape == (80, 80, 3)
    assert (rgb[:, :40] == 255).all()
    opaque = (255, 0, 0) if mode != "LA" else (76, 76, 76)  # LA: red's luma
    np.testing.assert_allclose(rgb[:, 40:], np.broadcast_to(opaque, (80, 40, 3)), atol=1)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_large_image_is_downscaled_keeping_aspect(tmp_path: Path, ext: str) -> None:
    ramp = np.linspace(0, 255, 3000, dtype=np.float32).astype(np.uint8)
    Image.fromarray(np.tile(ramp, (1500, 1))).convert("RGB").save(tmp_path / f"big.{ext}")

    rgb = load_image(tmp_path / f"big.{ext}")

    assert rgb.shape == (WORK_MAX_SIDE // 2, WORK_MAX_SIDE, 3)
    assert abs(int(rgb[500, 1024, 0]) - 128) <= 3  # content scaled, not cropped


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    Image.fromarray(np.full((70, 70), 32896, np.uint16)).save(tmp_path / "grey16.png")

    assert (load_image(tmp_path / "grey16.png") == 128).all()


def test_tiny_image_is_refused(tmp_path: Path) -> None:
    Image.new("RGB", (MIN_SIDE - 1, 200)).save(tmp_path / "tiny.png")

    with pytest.raises(InputError, match="too small.*tiny.png|tiny.png.*too small"):
        load_image(tmp_path / "tiny.png")


def test_huge_image_is_refused_from_header_without_decoding(tmp_path: Path) -> None:
    Image.new("1", (10_000, 10_000)).save(tmp_path / "huge.png")  # 12 kB file, 100 Mpx

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="too large"):
            load_image(tmp_path / "huge.png")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("notes.png", b"this is a text file, not a picture\n" * 20, "not an image"),
        ("missing.png", None, "not found"),
    ],
)
def test_non_images_are_refused(
    tmp_path: Path, name: str, content: bytes | None, match: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)

    with pytest.raises(InputError, match=match) as err:
        load_image(tmp_path / name)
    assert name in str(err.value) and "\n" not in str(err.value)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])

    with pytest.raises(InputError, match="truncated or corrupt"):
        load_image(tmp_path / "cut.jpg")


# ---------------------------------------------------------------- audio

AUDIO_FORMATS = [
    ("tone.wav", "pcm_s16le", 44100, {}),
    ("tone.flac", "flac", 44100, {}),
    ("tone.ogg", "libopus", 48000, {}),
    ("tone.mp3", "libmp3lame", 44100, {}),
    ("tone.m4a", "aac", 44100, {}),
]


@pytest.mark.parametrize(("name", "codec", "rate", "options"), AUDIO_FORMATS)
def test_audio_round_trip(tmp_path: Path, name: str, codec: str, rate: int, options) -> None:
    path = write_audio(tmp_path / name, codec, rate, sine(rate, 1.0), **options)

    samples = load_audio(path)

    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - ANALYSIS_RATE) <= ANALYSIS_RATE * 0.005  # within 5 ms
    assert abs(dominant_hz(samples, ANALYSIS_RATE) - TONE_HZ) < 2
    assert np.abs(samples).max() <= 1.0
    assert 0.3 < np.sqrt(np.mean(samples**2)) < 0.4  # sine of amplitude 0.5: RMS 0.354


def test_vorbis_stereo_is_averaged_to_mono_at_requested_rate(tmp_path: Path) -> None:
    path = write_audio(
        tmp_path / "tone.oga", "vorbis", 44100, sine(44100, 1.0), stereo=True, strict="-2"
    )

    samples = load_audio(path, sample_rate=22050)

    assert abs(len(samples) - 22050) <= 22050 * 0.005
    assert abs(dominant_hz(samples, 22050) - TONE_HZ) < 2
    assert 0.3 < np.sqrt(np.mean(samples**2)) < 0.4  # mean of channels, not +3 dB


def test_audio_track_of_a_video_is_loaded(tmp_path: Path) -> None:
    frames = moving_frames(10, 32, 32)
    path = write_video(tmp_path / "talk.mp4", frames, 25, audio=sine(16000, 0.4), audio_rate=16000)

    samples = load_audio(path)

    assert len(samples) == round(0.4 * ANALYSIS_RATE)  # mp4 edit list trims the AAC padding
    assert abs(dominant_hz(samples, ANALYSIS_RATE) - TONE_HZ) < 3


def test_silent_audio_is_zeros(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.wav", "pcm_s16le", 8000, np.zeros(4000, np.float32))

    samples = load_audio(path)

    assert len(samples) == ANALYSIS_RATE // 2 and not samples.any()


def test_file_without_audio_stream_is_refused(tmp_path: Path) -> None:
    path = write_video(tmp_path / "mute.mp4", moving_frames(3, 32, 32), 25)

    with pytest.raises(InputError, match="mute.mp4 has no audio stream"):
        load_audio(path)


def test_zero_length_wav_is_refused(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "empty.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)

    with pytest.raises(InputError, match="empty.wav contains no samples"):
        load_audio(tmp_path / "empty.wav")


@pytest.mark.parametrize("name", ["noise.mp3", "missing.wav"])
def test_corrupt_or_missing_audio_is_refused(tmp_path: Path, name: str) -> None:
    if name == "noise.mp3":
        noise = np.random.default_rng(1).integers(0, 256, 4096, np.uint8)
        (tmp_path / name).write_bytes(b"\x00" * 64 + noise.tobytes())

    with pytest.raises(InputError, match=name):
        load_audio(tmp_path / name)


# ---------------------------------------------------------------- video


@pytest.mark.parametrize(
    ("audio_rate", "stereo", "aac_rate"), [(16000, False, 48000), (44100, True, 44100)]
)
def test_writer_output_probes_and_reads_back(
    tmp_path: Path, audio_rate: int, stereo: bool, aac_rate: int
) -> None:
    fps, n = 25.0, 20
    frames = moving_frames(n, 64, 48)
    tone = sine(audio_rate, n / fps)
    audio = np.stack([tone, tone], -1) if stereo else tone
    path = write_video(tmp_path / "out.mp4", frames, fps, audio=audio, audio_rate=audio_rate)

    info = probe(path)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.num_frames, info.fps) == (64, 48, n, fps)
    assert abs(info.duration - n / fps) <= 1 / fps
    assert (info.audio_rate, info.audio_channels) == (aac_rate, 2 if stereo else 1)
    assert info.audio_duration is not None and abs(info.audio_duration - n / fps) < 0.05
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: index first
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]

    reader = VideoReader(path)
    assert (reader.num_frames, reader.width, reader.height, reader.fps) == (n, 64, 48, fps)
    decoded = list(reader.frames(batch_size=7))
    assert len(decoded) == n and decoded[0].shape == (48, 64, 3) and decoded[0].dtype == np.uint8
    errors = [np.abs(d.astype(int) - f).mean() for d, f in zip(decoded, frames, strict=True)]
    assert max(errors) < 4


def test_audio_longer_than_video_is_kept_whole(tmp_path: Path) -> None:
    frames = moving_frames(10, 32, 32)
    path = write_video(tmp_path / "out.mp4", frames, 25, audio=sine(16000, 0.6), audio_rate=16000)

    info = probe(path)

    assert info.num_frames == 10
    assert info.audio_duration is not None and abs(info.audio_duration - 0.6) < 0.01


def test_streamed_audio_chunks_mux_like_the_whole_array(tmp_path: Path) -> None:
    """A decoder can feed the writer chunk by chunk (memory flat in length), same result."""
    source = write_audio(tmp_path / "tone.wav", "pcm_s16le", 48000, sine(48000, 2.0))
    chunks = list(iter_audio(source, 48000))
    assert len(chunks) > 2 and np.array_equal(np.concatenate(chunks), load_audio(source, 48000))
    frames = moving_frames(50, 32, 32)
    streamed = write_video(tmp_path / "s.mp4", frames, 25, audio=iter_audio(source, 48000))
    whole = write_video(tmp_path / "w.mp4", frames, 25, audio=load_audio(source, 48000))

    assert abs(probe(streamed).audio_duration - 2.0) < 0.01
    np.testing.assert_allclose(load_audio(streamed), load_audio(whole), atol=1e-6)


def test_failure_while_finishing_leaves_target_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous result")

    def disk_full(src: Path, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    writer = VideoWriter(target, 25, 32, 32)  # kept alive: cleanup must not wait for GC
    for frame in moving_frames(3, 32, 32):
        writer.write(frame)
    monkeypatch.setattr("avatarvid.media.video.os.replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        writer.close()

    assert target.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_probe_counts_frames_when_the_header_has_no_count(tmp_path: Path) -> None:
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for frame in moving_frames(7, 32, 32):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))

    info = probe(path)

    assert info.num_frames == 7 and abs(info.duration - 0.7) < 0.1
    assert info.audio_codec is None and info.audio_duration is None


def test_writer_refuses_missing_directory_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="output directory .*nowhere does not exist"):
        VideoWriter(tmp_path / "nowhere" / "out.mp4", 25, 64, 48)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_inside_with_leaves_no_files(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous result")

    with pytest.raises(error), VideoWriter(target, 25, 64, 48, audio=sine(16000, 1.0)) as writer:
        for frame in moving_frames(5, 64, 48):
            writer.write(frame)
        raise error()

    assert target.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_closing_without_frames_is_an_error_and_leaves_no_files(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "out.mp4", 25, 64, 48)
    with pytest.raises(ValueError, match="no frames"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("width", "height"), [(63, 48), (64, 47), (0, 48)])
def test_writer_rejects_odd_or_empty_size(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even, positive"):
        VideoWriter(tmp_path / "out.mp4", 25, width, height)
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_frames_of_the_wrong_size(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match=r"expected a \(48, 64, 3\) uint8 frame"),
        VideoWriter(tmp_path / "out.mp4", 25, 64, 48) as writer,
    ):
        writer.write(np.zeros((48, 66, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["notes.mp4", "missing.mp4"])
def test_reader_and_probe_refuse_unreadable_files(tmp_path: Path, name: str) -> None:
    if name == "notes.mp4":
        (tmp_path / name).write_text("not a video\n" * 50)

    with pytest.raises(InputError, match=name):
        VideoReader(tmp_path / name)
    with pytest.raises(InputError, match=name):
        probe(tmp_path / name)


def test_reader_refuses_video_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()  # header only, no frames

    with pytest.raises(InputError, match="empty.mkv"):
        VideoReader(path)


def test_a_cut_keeps_exactly_its_frames_and_the_whole_video_is_not_re_encoded(tmp_path: Path):
    grey = [np.full((48, 64, 3), 10 * k, np.uint8) for k in range(20)]
    source = write_video(tmp_path / "source.mp4", grey, 10.0, crf=0)
    part = cut(source, tmp_path / "part.mp4", first=5, frames=8)
    levels = [float(f.mean()) for f in VideoReader(part).stream()]
    np.testing.assert_allclose(levels, [10 * k for k in range(5, 13)], atol=2)  # crf 12
    tail = cut_seconds(source, tmp_path / "tail.mp4", start=1.5, seconds=10.0)
    levels = [float(f.mean()) for f in VideoReader(tail).stream()]
    np.testing.assert_allclose(levels, [150, 160, 170, 180, 190], atol=2)
    assert cut(source, tmp_path / "same.mp4") == source and not (tmp_path / "same.mp4").exists()


def test_opencv_reads_png_after_the_video_module_is_imported_first(tmp_path: Path):
    """decord bundles zlib 1.2.3; loaded before OpenCV it broke every cv2 PNG read. A fresh
    interpreter, so the import order is the one under test."""
    code = (
        "import avatarvid.media.video, cv2, numpy as np, sys; "
        "img = np.arange(3 * 64 * 64, dtype=np.uint32).reshape(64, 64, 3).astype(np.uint8); "
        "cv2.imwrite(sys.argv[1], img); back = cv2.imread(sys.argv[1]); "
        "sys.exit(0 if back is not None and (back == img).all() else 3)"
    )
    root = str(Path(avatarvid.__file__).parents[1])  # this checkout's package, not another
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.png")], env=env)
    assert done.returncode == 0
