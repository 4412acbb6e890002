"""Hidden temporary names for outputs being written, and removal of those a dead process left.

Every output is written as `.NAME.partial-PID[.ext]` next to NAME and renamed when complete. A
SIGKILL (or a power cut) leaves the temporary file behind; the next avatarvid run that writes
into the same folder removes the ones whose process no longer exists.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_PARTIAL = re.compile(r"^\..+\.partial-(\d+)(\.[A-Za-z0-9]+)?$")


def partial_path(path: Path, extension: str = "") -> Path:
    """The temporary name this process writes `path` under (`extension` keeps muxers happy)."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}{extension}")


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
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _PARTIAL.match(entry.name)
            if match and entry.is_file(follow_symlinks=False) and not _alive(int(match[1])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed
