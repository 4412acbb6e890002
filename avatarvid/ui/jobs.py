"""What every tab shares: the app's temporary folder, per-session cancel events, the bridge from
the API's progress callback to gr.Progress and the mapping of errors to one-line messages."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import gradio as gr

import avatarvid
from avatarvid.assets import examples_dir

log = logging.getLogger(__name__)
_PATH = re.compile(r"(?:/[^/\s:'\"]+)+/([^/\s:'\"]+)")
EXAMPLE_FILES = ("astronaut.png", "speech.wav", "lines/hello.wav", "batch.yaml")


class Workspace:
    """The app's own temporary folder: uploads (gradio's cache), outputs, example copies.
    It is the only folder the server reads files from."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="avatarvid-ui-"))
        self.uploads = self.root / "uploads"
        self.outputs = self.root / "outputs"
        self.examples = self.root / "examples"
        for folder in (self.uploads, self.outputs, self.examples):
            folder.mkdir(parents=True, exist_ok=True)
        source = examples_dir()
        for name in EXAMPLE_FILES:
            target = self.examples / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copyfile(source / name, target)
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def example(self, name: str) -> str:
        return str(self.examples / name)

    def new_folder(self) -> Path:
        folder = self.outputs / uuid.uuid4().hex[:12]
        folder.mkdir()
        return folder

    def output_path(self, stem: str) -> Path:
        """A fresh .mp4 path in its own folder, so the name the user downloads stays readable."""
        return self.new_folder() / f"{stem}.mp4"

    @contextlib.contextmanager
    def render_into(self, stem: str):
        """output_path() whose folder is removed again when the render fails or is cancelled
        (the API already removed any partial file)."""
        path = self.output_path(stem)
        try:
            yield path
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise

    def cancel_event(self, request: gr.Request | None) -> threading.Event:
        """A new cancel event for this session's next render (Cancel sets the latest one)."""
        event = threading.Event()
        with self._lock:
            self._cancels[_session(request)] = event
        return event

    def cancel(self, request: gr.Request | None) -> None:
        with self._lock:
            event = self._cancels.get(_session(request))
        if event is not None:
            event.set()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "default"


def progress_bridge(progress: gr.Progress) -> Callable[[str, int, int | None], None]:
    """The API's progress(stage, done, total) shown as gr.Progress (a bar and the stage)."""

    def report(stage: str, done: int, total: int | None) -> None:
        if total:
            progress(min(done / total, 1.0), desc=stage)
        else:
            progress(None, desc=stage)

    return report


def user_errors(fn: Callable) -> Callable:
    """Errors become one message in the page (gr.Error), never a traceback: the AvatarvidError
    text as is, anything else as its type and message (the traceback goes to the server log).
    Works for plain and generator (streaming) handlers."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise _page_error(fn, e) from None

        return streaming

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise _page_error(fn, e) from None

    return wrapper


def _page_error(fn: Callable, e: Exception) -> gr.Error:
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, avatarvid.Cancelled):
        return gr.Error("Cancelled: the render stopped and no file was written.")
    if isinstance(e, avatarvid.AvatarvidError):
        return gr.Error(_short_paths(str(e).splitlines()[0] if str(e) else type(e).__name__))
    log.error("internal error in %s", fn.__name__, exc_info=e)
    return gr.Error(_short_paths(f"internal error: {type(e).__name__}: {e}".splitlines()[0]))


def _short_paths(message: str) -> str:
    """Server paths mean nothing in the page: '/tmp/.../uploads/<hash>/me.png: no face' ->
    'me.png: no face'."""
    return _PATH.sub(lambda m: m.group(1), message)


def require(value, what: str):
    if not value:
        raise gr.Error(f"Please add {what} first.")
    return value
