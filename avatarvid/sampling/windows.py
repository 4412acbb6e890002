"""Window schedules over frames, and the wrapper that averages a model over windows.

Two schedules, for two jobs:
* `chained_starts` (motion): windows are sampled one after another, each continuing the
  previous one, so they advance by `window - overlap` until one reaches the end; the last may
  run past it (into padding) and is cut.
* `tiled_starts` (renderer): windows tile a fixed-length chunk whose predictions are averaged,
  so every window lies inside it; the last is moved back to end flush with the chunk.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def chained_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """First frame of each window: windows advance by window - overlap until they cover all."""
    stride = window - overlap
    if stride < 1:
        raise ValueError(f"overlap {overlap} must be smaller than the window {window}")
    starts = [0]
    while starts[-1] + window < num_frames:
        starts.append(starts[-1] + stride)
    return starts


def tiled_starts(length: int, window: int, overlap: int) -> list[int]:
    """Starts of windows covering [0, length), the last one flush with the end."""
    if length <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


WindowFn = Callable[[torch.Tensor, torch.Tensor, slice], torch.Tensor]


def window_average(
    model_fn: WindowFn, window: int, overlap: int
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A model callable over (batch, frames, ...) that runs `model_fn(x[:, frames], t, frames)`
    on tiled windows and averages the predictions where windows overlap (MagicAnimate), so a
    chunk may be longer than what the network saw in training."""

    def averaged(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x)
        count = torch.zeros(x.shape[1], *(1,) * (x.dim() - 2), dtype=x.dtype, device=x.device)
        for a in tiled_starts(x.shape[1], window, overlap):
            frames = slice(a, min(a + window, x.shape[1]))
            total[:, frames] += model_fn(x[:, frames], t, frames)
            count[frames] += 1
        return total / count

    return averaged
