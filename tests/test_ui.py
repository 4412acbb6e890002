"""`avatarvid ui`: the real command on a free loopback port, driven by headless Debian Chromium
(Playwright with the system browser) and by gradio_client. Skipped only when gradio, playwright
or chromium is missing (scripts/setup_ui.sh installs them)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from avatarvid.assets import examples_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHOTO = examples_dir() / "astronaut.png"
LINE = examples_dir() / "lines" / "hello.wav"  # 3.4 s
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.frames / float(stream.average_rate)


def _audio_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return container.duration / 1e6


def _has_face(path: Path) -> bool:
    from avatarvid.media.video import VideoReader
    from avatarvid.perception.face_mesh import FaceMeshTracker

    frames = list(VideoReader(path).frames())
    with FaceMeshTracker(static_image_mode=True, max_faces=1) as tracker:
        return bool(tracker.detect(frames[len(frames) // 2]))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, temp root): `avatarvid ui` in a subprocess; its temporary folder under tmp."""
    pytest.importorskip("gradio", reason="gradio not installed (bash scripts/setup_ui.sh)")
    tmp = tmp_path_factory.mktemp("ui")
    port = _free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        TMPDIR=str(tmp),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
    )
    cmd = [sys.executable, "-m", "avatarvid.cli", "ui", "--port", str(port)]
    log = open(tmp / "server.log", "w")  # noqa: SIM115 (open while the server runs)
    # Ctrl-C as at a terminal: a shell without job control starts background jobs (e.g. a CI
    # run started with `&`) with SIGINT ignored, which the server would inherit and never stop.
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"avatarvid ui did not start: {(tmp / 'server.log').read_text()}")
            time.sleep(0.5)
    yield url, tmp
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops and removes its folder
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    assert not list(tmp.glob("avatarvid-ui-*")), "the app's temporary folder was left"


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _host(url: str) -> str | None:
    parts = urlparse(url)
    return parts.hostname if parts.scheme in ("http", "https", "ws", "wss") else "127.0.0.1"


@pytest.fixture
def page(browser, app):
    """A page of the app that records every host it contacts (all must be loopback)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.hosts = set()
    page.on("request", lambda r: page.hosts.add(_host(r.url)))
    page.goto(app[0])
    page.locator("#photo").wait_for(timeout=60_000)
    yield page
    context.close()


def _fill_talking_tab(page, photo: Path, audio: Path) -> None:
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#speech input[type=file]").set_input_files(str(audio))
    size = page.locator("#size input[type=number]")
    size.fill("160")
    size.press("Enter")
    page.locator("input[type=radio][value=procedural]").check()
    page.locator("#photo img").first.wait_for(timeout=30_000)
    page.locator("#speech audio, #speech #waveform").first.wait_for(
        state="attached", timeout=30_000
    )


def test_missing_gradio_is_one_line(tmp_path):
    code = "import sys; sys.modules['gradio'] = None; from avatarvid.cli import main; main(['ui'])"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stderr.strip() == (
        "avatarvid: error: the web UI needs gradio; install it with: pip install 'avatarvid[ui]'"
    )
    assert not list(tmp_path.iterdir())  # no temporary folder made


def test_browser_renders_the_example(page, app, tmp_path):
    started = time.perf_counter()
    _fill_talking_tab(page, PHOTO, LINE)
    page.locator("#vlog-generate").click()
    video = page.locator("#vlog-video video")
    video.wait_for(timeout=180_000)
    page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
    src = video.get_attribute("src")
    out = tmp_path / "from-page.mp4"
    with urllib.request.urlopen(src if src.startswith("http") else app[0] + src) as r:
        out.write_bytes(r.read())
    seconds = time.perf_counter() - started
    assert abs(_duration(out) - _audio_duration(LINE)) <= 0.1
    assert _has_face(out)
    status = page.locator("#vlog-status").inner_text()
    assert "85 frames" in status, status
    # the equivalent command is shown and is a command the CLI accepts
    page.get_by_text("The same with the command line or Python").click()
    cli = page.locator("#vlog-cli").inner_text(timeout=10_000)
    assert "--motion procedural" in cli and "--size 160" in cli, cli
    # the result carried over to the Quality report tab and measured there
    page.locator("#vlog-measure").click()
    page.get_by_role("button", name="Measure").click()
    page.get_by_text("frames with a face").first.wait_for(timeout=120_000)
    page.locator("#quality-plot img").first.wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "quality.png"), full_page=True)
    assert page.hosts <= {"127.0.0.1"}, f"the page contacted {page.hosts}"
    print(f"browser render: {seconds:.1f} s")


def test_browser_shows_no_face_error(page, tmp_path):
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(grey)
    _fill_talking_tab(page, grey, LINE)
    page.locator("#vlog-generate").click()
    message = page.get_by_text("no face found", exact=False).first
    message.wait_for(timeout=60_000)
    assert "grey.png" in message.inner_text()
    assert "Traceback" not in page.content()
    page.screenshot(path=str(tmp_path / "no-face.png"))


def test_browser_cancel_leaves_no_file(page, app, tmp_path):
    _fill_talking_tab(page, PHOTO, examples_dir() / "speech.wav")  # 14.9 s
    before = set(app[1].rglob("*.mp4")), set(app[1].glob("*/outputs/*"))
    page.locator("#vlog-generate").click()
    # a stage of this render in the progress overlay, e.g. "perception - 0.0%"
    stage = re.compile(r"(perception|audio|motion|render) - ")
    page.locator("#vlog-video").get_by_text(stage).first.wait_for(timeout=60_000)
    page.locator("#vlog-cancel").click()
    page.get_by_text("Cancelled", exact=False).first.wait_for(timeout=60_000)
    time.sleep(1.0)
    after = set(app[1].rglob("*.mp4")), set(app[1].glob("*/outputs/*"))
    assert after == before, "a partial or finished file (or its folder) was left"


def test_client_vlog_endpoint(app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app[0], verbose=False, download_files=str(tmp_path))
    video, status, cli, python = client.predict(
        handle_file(str(PHOTO)),
        handle_file(str(LINE)),
        "default",
        160,
        3,
        1.0,
        1.0,
        "procedural",
        "warp",
        "none",
        api_name="/vlog",
    )
    path = Path(video["video"] if isinstance(video, dict) else video)
    assert path.suffix == ".mp4" and abs(_duration(path) - _audio_duration(LINE)) <= 0.1
    assert "--seed 3" in cli and "seed=3" in python
    from avatarvid.cli import build_parser

    args = build_parser().parse_args(shlex.split(cli)[1:])
    assert args.size == 160 and args.motion == "procedural"
    compile(python, "<snippet>", "exec")


def test_only_the_app_folder_is_served(app):
    import urllib.error

    for path in (ROOT / "README.md", PHOTO):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{app[0]}gradio_api/file={path}")
        assert e.value.code == 403


def test_client_bad_files_are_one_message(app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app[0], verbose=False, download_files=str(tmp_path))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    for image, audio in ((broken, LINE), (PHOTO, broken)):
        with pytest.raises(Exception) as e:
            client.predict(handle_file(str(image)), handle_file(str(audio)), api_name="/vlog")
        message = str(e.value)
        assert "broken.png" in message and "/tmp" not in message and "Traceback" not in message


def test_client_batch_and_quality(app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(app[0], verbose=False, download_files=str(tmp_path))
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "defaults: {size: 128, motion: {generator: procedural}}\n"
        "jobs:\n"
        "  - {image: astronaut.png, audio: hello.wav, output: hello.mp4}\n"
        "  - {image: missing.png, audio: hello.wav, output: missing.mp4}\n"
    )
    table, outputs, status = client.predict(
        handle_file(str(jobs)),
        [handle_file(str(PHOTO)), handle_file(str(LINE))],
        "",
        1,
        api_name="/batch",
    )
    rows = {row[0]: row for row in table["data"]}
    assert rows["hello.mp4"][2] == "ok" and rows["missing.mp4"][2] == "failed", rows
    assert "1 ok" in status and "1 failed" in status, status
    (video,) = [Path(o) for o in outputs]
    assert abs(_duration(video) - _audio_duration(LINE)) <= 0.1
    report, plot = client.predict(
        handle_file(str(video)), handle_file(str(PHOTO)), None, None, api_name="/quality"
    )
    metrics = {row[0]: row[1] for row in report["data"]}
    assert metrics["frames with a face"] == "1.000", metrics
    assert plot is not None
