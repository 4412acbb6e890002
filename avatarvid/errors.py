"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""


class AvatarvidError(Exception):
    """Base class: the message is shown to the user as is, so it must say what to do."""


class InputError(AvatarvidError):
    """A user-supplied file or option is missing, unreadable or unusable."""


class NoFaceError(InputError):
    """No face was found where one is required."""


class CheckpointError(AvatarvidError):
    """A model checkpoint is missing or does not match the code."""


class Cancelled(AvatarvidError):
    """The caller asked a render to stop (a set `cancel` event); no output was left behind."""
