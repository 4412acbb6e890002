"""A stop request (SIGTERM, SIGHUP) that cannot be lost.

The command line's signal handler raises `Terminated` at once, like Ctrl-C. But a raise that
lands while the garbage collector runs a finalizer (a `__del__`, a `weakref.finalize`
callback) is printed and discarded by Python, and the run would go on, finish and exit 0. The
request is therefore also kept here, and the frame loops ask for it (`VideoWriter.write`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_requested: int | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so every cleanup an interrupt runs runs too (temp
    files removed, batch workers stopped)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def request(signum: int, _frame=None) -> None:
    """The signal handler: remember the request, then raise it."""
    global _requested
    _requested = signum
    raise Terminated(signum)


def raise_if_requested() -> None:
    """Raise a request whose first raise was discarded."""
    if _requested is not None:
        raise Terminated(_requested)


def clear() -> None:
    global _requested
    _requested = None


def quiet_discards(default: Callable[[Any], None]) -> Callable[[Any], None]:
    """A `sys.unraisablehook` that prints no traceback for a discarded request: it is not
    lost, the next frame raises it again."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, Terminated):
            default(unraisable)

    return hook
