"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class AvatarvidError(Exception):
    """Base class: the message is shown to the user as is, so it must say what to do."""


class InputError(AvatarvidError):
    """A user-supplied file or option is missing, unreadable or unusable."""


class NoFaceError(InputError):
    """No face was found where one is required."""


class CheckpointError(AvatarvidError):
    """A model checkpoint is missing or does not match the code."""


def existing_file(path: str | Path, kind: str) -> Path:
    """`path` as a Path, or the one-line error every media reader gives for a missing file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{kind} {path} not found; check the path")
    return path


class Cancelled(AvatarvidError):
    """The caller asked a render to stop (a set `cancel` event); no output was left behind."""
