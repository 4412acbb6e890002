"""avatarvid: one photo + speech -> a lip-synced talking video, on a CPU.

The Python API (avatarvid/api.py) is imported on first use, so `import avatarvid` and the
command line stay fast: vlog(), animate(), upscale(), Avatar, RenderResult.
"""

from avatarvid.errors import AvatarvidError, Cancelled, CheckpointError, InputError, NoFaceError

__version__ = "0.1.0"
_API = ("vlog", "animate", "upscale", "Avatar", "RenderResult")
__all__ = [
    *_API,
    "AvatarvidError",
    "Cancelled",
    "CheckpointError",
    "InputError",
    "NoFaceError",
    "__version__",
]


def __getattr__(name: str):
    if name in _API:
        from avatarvid import api

        return getattr(api, name)
    raise AttributeError(f"module 'avatarvid' has no attribute {name!r}")
