"""The `avatarvid` command line. Errors a user can fix are printed as one line, exit code 2."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import warnings

from avatarvid import __version__, stop
from avatarvid.commands import (
    animate,
    batch,
    bench,
    data,
    evaluate,
    info,
    study,
    train,
    ui,
    upscale,
    vlog,
)
from avatarvid.errors import AvatarvidError

COMMANDS = (vlog, animate, batch, upscale, ui, evaluate, bench, study, data, train, info)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"avatarvid: warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatarvid",
        description="Talking-avatar video from one photo and a voice recording, on a CPU.",
    )
    parser.add_argument("--version", action="version", version=f"avatarvid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="avatarvid: %(levelname)s: %(message)s")
    warnings.showwarning = _one_line_warning
    with _signals_as_interrupts():
        return _run(args)


@contextlib.contextmanager
def _signals_as_interrupts():
    """SIGTERM and SIGHUP stop a run like Ctrl-C while it lasts (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, stop.request) for s in (signal.SIGTERM, signal.SIGHUP)}
    unraisable_hook = sys.unraisablehook
    sys.unraisablehook = stop.quiet_discards(unraisable_hook)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = unraisable_hook
        stop.clear()


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except AvatarvidError as e:
        print(f"avatarvid: error: {e}", file=sys.stderr)
        return 2
    except stop.Terminated as e:
        print(f"avatarvid: stopped by {signal.Signals(e.signum).name}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("avatarvid: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not a user error: still one line unless --debug
        if args.debug:
            raise
        print(
            f"avatarvid: internal error: {type(e).__name__}: {e} (rerun with --debug for "
            "the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
