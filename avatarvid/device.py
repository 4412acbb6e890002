"""Which device the networks run on, and in which precision.

fp32 everywhere on CPU: this CPU (AVX2, no AVX-512) runs bf16/fp16 ~100x slower than fp32.
Half precision (autocast) only on accelerators, where it is the fast path.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Literal

from avatarvid.errors import InputError

if TYPE_CHECKING:  # torch is imported when a device is resolved, not when the CLI starts
    import torch

DeviceName = Literal["auto", "cpu", "cuda", "mps"]
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" = CUDA, else Apple MPS, else CPU; an explicit device that is absent is an error."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in DEVICE_CHOICES:
        raise InputError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available here; use --device cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise InputError("--device mps: no Apple MPS device is available here; use --device cpu")
    return torch.device(name)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision on accelerators (bf16 on CUDA when supported, else fp16); nothing on CPU."""
    import torch

    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if device.type == "mps":
        return torch.autocast("mps", dtype=torch.float16)
    return contextlib.nullcontext()
