"""A corpus of careless and hostile inputs: each is one clear error line, exit code 2, every
input byte-identical afterwards and no file left behind, under a memory cap."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import read_wav, write_wav

from avatarvid.motion.schema import MOTION_LAYOUT, Motion

MEMORY_CAP = 3 * 2**30


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "avatarvid.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=_cap_memory,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def work(tmp_path_factory, astronaut_path, speech_path) -> Path:
    """A folder with a photo, 2 s of speech, a small video with audio and a motion file."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(astronaut_path, folder / "me.png")
    samples, rate = read_wav(speech_path)
    write_wav(folder / "line.wav", samples[: 2 * rate], rate)
    from avatarvid.media.video import VideoWriter

    with VideoWriter(
        folder / "clip.mp4", 25, 64, 48, audio=samples[: rate // 2], audio_rate=rate
    ) as w:
        for i in range(5):
            w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    Motion.zeros(10, 25.0).save(folder / "m.npz")
    return folder


def _npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _motion_arrays(frames: int = 10, fps: np.ndarray | None = None) -> dict:
    return {
        "values": np.zeros((frames, MOTION_LAYOUT.dim), np.float32),
        "fps": np.float32(25.0) if fps is None else fps,
        "names": np.array(MOTION_LAYOUT.names),
        "layout": np.array(MOTION_LAYOUT.name),
        "version": np.int32(MOTION_LAYOUT.version),
    }


def _bad_motion(kind: str, folder: Path) -> Path:
    path = folder / f"bad_{kind}.npz"
    if kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "not_zip":
        path.write_bytes(b"\x93NUMPY garbage that is no archive")
    elif kind == "empty":
        _npz(path)
    elif kind == "nan_fps":
        _npz(path, **_motion_arrays(fps=np.float32("nan")))
    elif kind == "inf_fps":
        _npz(path, **_motion_arrays(fps=np.float32("inf")))
    elif kind == "tiny_fps":
        _npz(path, **_motion_arrays(fps=np.float32(1e-30)))
    elif kind == "string_fps":
        _npz(path, **_motion_arrays(fps=np.array("25")))
    elif kind == "no_frames":
        _npz(path, **_motion_arrays(frames=0))
    elif kind == "bomb":
        # 100 MB of zeros deflates to ~100 KB: refused by its declared size, never unpacked.
        np.savez_compressed(
            path, **{**_motion_arrays(), "values": np.zeros(25 * 2**20, np.float32)}
        )
    elif kind == "lying_header":
        _npz(path, **_motion_arrays())
        data = bytearray(path.read_bytes())
        at = data.find(b"(10, ")
        data[at : at + 5] = b"(99, "
        path.write_bytes(bytes(data))
    return path


MOTION_CASES = [
    "zero_bytes",
    "not_zip",
    "empty",
    "nan_fps",
    "inf_fps",
    "tiny_fps",
    "string_fps",
    "no_frames",
    "bomb",
    "lying_header",
]


@pytest.mark.parametrize("kind", MOTION_CASES)
def test_bad_motion_files_are_one_clear_error(kind, work, tmp_path):
    bad = _bad_motion(kind, tmp_path)
    from avatarvid.errors import InputError

    with pytest.raises(InputError) as info:
        Motion.load(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def _path_cases(w: Path, out: Path) -> dict[str, list[str]]:
    vlog = ["vlog", "--image", str(w / "me.png"), "--audio", str(w / "line.wav")]
    return {
        "vlog output is the audio": [*vlog, "-o", str(w / "line.wav")],
        "vlog output is the clip used as audio": [
            "vlog",
            "--image",
            str(w / "me.png"),
            "--audio",
            str(w / "clip.mp4"),
            "-o",
            str(w / "clip.mp4"),
        ],
        "motion-out is the photo": [
            *vlog,
            "-o",
            str(out / "a.mp4"),
            "--motion-out",
            str(w / "me.png"),
        ],
        "motion-out is the audio": [
            *vlog,
            "-o",
            str(out / "a.mp4"),
            "--motion-out",
            str(w / "line.wav"),
        ],
        "motion-out equals the output": [
            *vlog,
            "-o",
            str(out / "a.mp4"),
            "--motion-out",
            str(out / "a.mp4"),
        ],
        "output through a symlink to the audio": [*vlog, "-o", str(out / "link.mp4")],
        "output is a hard link of the motion-in": [
            *vlog,
            "--motion-in",
            str(w / "m.npz"),
            "-o",
            str(out / "hard.mp4"),
        ],
        "output is a folder": [*vlog, "-o", str(out / "folder.mp4")],
        "output folder missing": [*vlog, "-o", str(out / "missing" / "a.mp4")],
        "output name too long": [*vlog, "-o", str(out / ("x" * 245 + ".mp4"))],
        "image is a folder": [
            "vlog",
            "--image",
            str(out),
            "--audio",
            str(w / "line.wav"),
            "-o",
            str(out / "b.mp4"),
        ],
        "image is a device": [
            "vlog",
            "--image",
            "/dev/zero",
            "--audio",
            str(w / "line.wav"),
            "-o",
            str(out / "b.mp4"),
        ],
        "upscale onto its input": [
            "upscale",
            "--video",
            str(w / "clip.mp4"),
            "-o",
            str(w / "clip.mp4"),
        ],
        "animate onto its driver": [
            "animate",
            "--image",
            str(w / "me.png"),
            "--drive",
            str(w / "clip.mp4"),
            "-o",
            str(w / "clip.mp4"),
        ],
        "animate motion-out onto its driver": [
            "animate",
            "--image",
            str(w / "me.png"),
            "--drive",
            str(w / "clip.mp4"),
            "-o",
            str(out / "c.mp4"),
            "--motion-out",
            str(w / "clip.mp4"),
        ],
        "eval json onto the video": [
            "eval",
            "--video",
            str(w / "clip.mp4"),
            "--reference",
            str(w / "me.png"),
            "--json",
            str(w / "clip.mp4"),
        ],
        "eval json into a missing folder": [
            "eval",
            "--video",
            str(w / "clip.mp4"),
            "--reference",
            str(w / "me.png"),
            "--json",
            str(out / "missing" / "r.json"),
        ],
        "eval json onto a folder": [
            "eval",
            "--video",
            str(w / "clip.mp4"),
            "--reference",
            str(w / "me.png"),
            "--json",
            str(out),
        ],
    }


def test_no_output_ever_replaces_an_input(work, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "link.mp4").symlink_to(work / "line.wav")
    os.link(work / "m.npz", out / "hard.mp4")
    (out / "folder.mp4").mkdir()
    before = _snapshot(work)
    results = {}
    for name, args in _path_cases(work, out).items():
        proc = _cli(*args, cwd=tmp_path)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        results[name] = (proc.returncode, lines)
    bad = {n: r for n, r in results.items() if r[0] != 2 or len(r[1]) != 1}
    assert not bad, bad
    assert all(r[1][0].startswith("avatarvid: error: ") for r in results.values())
    assert _snapshot(work) == before
    leftovers = sorted(p.name for p in out.iterdir())
    assert leftovers == ["folder.mp4", "hard.mp4", "link.mp4"]


def _batch_file(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_hostile_job_files_are_refused_quickly(work, tmp_path):
    line = str(work / "line.wav")
    img = str(work / "me.png")
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    cases = {
        "alias bomb": bomb
        + f"jobs:\n  - {{image: {img}, audio: {line}, output: a.mp4, kind: *i}}\n",
        "format width": f"jobs:\n  - {{image: {img}, audio: {line}, "
        "output: '{image:>2000000000}.mp4'}\n",
        "binary": bytes(range(256)) * 4,
        "deep jsonl": "[" * 100_000 + "]" * 100_000 + "\n",
        "name too long": f"jobs:\n  - {{image: {img}, audio: {line}, output: {'y' * 252}.mp4}}\n",
        "output is its audio": f"jobs:\n  - {{image: {img}, audio: {line}, output: {line}.mp4}}\n",
    }
    (tmp_path / "line.wav.mp4").symlink_to(work / "line.wav")
    cases["output is its audio"] = (
        f"jobs:\n  - {{image: {img}, audio: {line}, output: line.wav.mp4}}\n"
    )
    before = _snapshot(work)
    for name, text in cases.items():
        suffix = ".jsonl" if name == "deep jsonl" else ".yaml"
        jobs = _batch_file(tmp_path, f"jobs{suffix}", text)
        started = time.monotonic()
        proc = _cli("batch", str(jobs), "--output-root", str(tmp_path), "-q", cwd=tmp_path)
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-500:])
        assert len(lines) == 1 and lines[0].startswith("avatarvid: error: "), (name, lines)
        assert len(lines[0]) < 2000, name
        assert time.monotonic() - started < 60, name
    assert _snapshot(work) == before


def _long_inputs(work: Path, folder: Path) -> dict[str, Path]:
    """16 s of speech and a 10 s video, long enough to be stopped mid-render."""
    samples, rate = read_wav(work / "line.wav")
    audio = write_wav(folder / "long.wav", np.tile(samples, 8), rate)
    from avatarvid.media.image import load_image
    from avatarvid.media.video import VideoWriter

    face = load_image(work / "me.png")[40:296:2, 120:376:2]  # the astronaut's head, 128 px
    video = folder / "drive.mp4"
    with VideoWriter(video, 25, 128, 128) as w:
        for i in range(250):
            w.write(np.roll(face, (i % 10) - 5, axis=1))
    jobs = folder / "jobs.yaml"
    jobs.write_text(
        f"defaults: {{image: {work / 'me.png'}, motion: {{generator: procedural}}}}\n"
        f"jobs:\n  - {{audio: [{audio}, {audio}], output: 'out/{{index}}.mp4'}}\n"
    )
    return {"audio": audio, "video": video, "jobs": jobs}


SIGTERM_COMMANDS = {
    "vlog": lambda w, i, out: [
        "vlog",
        "--image",
        str(w / "me.png"),
        "--audio",
        str(i["audio"]),
        "-o",
        str(out / "t.mp4"),
        "--motion",
        "procedural",
    ],
    "animate": lambda w, i, out: [
        "animate",
        "--image",
        str(w / "me.png"),
        "--drive",
        str(i["video"]),
        "-o",
        str(out / "t.mp4"),
        "--mode",
        "face",
    ],
    "upscale": lambda w, i, out: ["upscale", "--video", str(i["video"]), "-o", str(out / "t.mp4")],
    "batch": lambda w, i, out: [
        "batch",
        str(i["jobs"]),
        "--output-root",
        str(out),
        "--workers",
        "1",
    ],
}


@pytest.mark.parametrize(
    ("command", "signum"),
    [(c, signal.SIGTERM) for c in sorted(SIGTERM_COMMANDS)] + [("vlog", signal.SIGHUP)],
)
def test_signals_stop_cleanly_and_stale_partials_are_removed(command, signum, work, tmp_path):
    inputs = _long_inputs(work, tmp_path)
    out = tmp_path / "out"
    (out / "out").mkdir(parents=True)
    # Where the command writes: batch into out/out (its outputs are named out/N.mp4).
    folder = out / "out" if command == "batch" else out
    stale = folder / ".old.mp4.partial-4194303.mp4"  # above Linux's pid_max: never alive
    stale.write_bytes(b"left by a killed run")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "avatarvid.cli",
            *SIGTERM_COMMANDS[command](work, inputs, out),
            "-q",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_cap_memory,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not [
        p for p in out.rglob(".*.partial-*.mp4") if p != stale
    ]:
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    found = sorted(str(p) for p in out.rglob(".*.partial-*.mp4"))
    assert proc.poll() is None, f"{command} finished before it could be stopped"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err  # 143 for SIGTERM, 129 for SIGHUP
    assert err.strip().splitlines() == [f"avatarvid: stopped by {signal.Signals(signum).name}"]
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == [], (left, found)


SWALLOWED_STOP = """
import os, signal, sys
import numpy as np
from avatarvid.cli import _signals_as_interrupts
from avatarvid.media.video import VideoWriter
from avatarvid.stop import Terminated

class Collected:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10000):  # the handler raises in here, and Python discards the raise
            pass

frame = np.zeros((64, 64, 3), np.uint8)
try:
    with _signals_as_interrupts(), VideoWriter(sys.argv[1], 25, 64, 64) as writer:
        writer.write(frame)
        Collected()
        writer.write(frame)
except Terminated as stop:
    sys.exit(128 + stop.signum)
print("finished")
"""


def test_a_stop_discarded_by_a_finalizer_is_raised_at_the_next_frame(tmp_path):
    """A SIGTERM whose raise lands in a finalizer (printed and dropped by Python) must still
    stop the run, quietly, and leave no output."""
    out = tmp_path / "t.mp4"
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWED_STOP, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (128 + signal.SIGTERM, "", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_only_this_machines_dead_partials_are_removed(tmp_path):
    """A shared folder (a Ray cluster's file system) may hold another machine's live partials:
    only this host's files of dead processes, and untagged old ones, are removed."""
    from avatarvid.media.partials import _host, partial_path, remove_stale_partials

    dead = 4194303  # above Linux's pid_max
    mine_dead = tmp_path / f".a.mp4.partial-{_host()}-{dead}.mp4"
    mine_alive = partial_path(tmp_path / "b.mp4", ".mp4")
    other_host = tmp_path / f".c.mp4.partial-elsewhere-{dead}.mp4"
    untagged = tmp_path / f".d.npz.partial-{dead}"
    for path in (mine_dead, mine_alive, other_host, untagged):
        path.write_bytes(b"x")
    removed = remove_stale_partials(tmp_path)
    assert sorted(removed) == sorted([mine_dead, untagged])
    assert mine_alive.exists() and other_host.exists()
