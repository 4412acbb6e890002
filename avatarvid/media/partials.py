"""Hidden temporary names for outputs being written, and removal of those a dead process left.

Every output is written as `.NAME.partial-HOST-PID[.ext]` next to NAME and renamed when
complete. A SIGKILL (or a power cut) leaves the temporary file behind; the next avatarvid run
that writes into the same folder removes the ones this machine's dead processes left. The host
is in the name because a folder may be shared (a Ray cluster's file system): a process id says
nothing about another machine's processes, so their files are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from pathlib import Path

_PARTIAL = re.compile(r"^\..+\.partial-(?:(?P<host>[A-Za-z0-9_]+)-)?(?P<pid>\d+)(\.[A-Za-z0-9]+)?$")


def _host() -> str:
    """This machine's name as it appears in partial names (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def partial_path(path: Path, extension: str = "") -> Path:
    """The temporary name this process writes `path` under (`extension` keeps muxers happy)."""
    return path.with_name(f".{path.name}.partial-{_host()}-{os.getpid()}{extension}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_partials(folder: Path) -> list[Path]:
    """Deletes temporary outputs in `folder` left by processes that are gone; returns them."""
    removed, host = [], _host()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _PARTIAL.match(entry.name)
            if not match or match["host"] not in (None, host):
                continue
            if entry.is_file(follow_symlinks=False) and not _alive(int(match["pid"])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed
