"""Scaled dot-product attention through one function, so every block runs the same kernel.

xformers' memory-efficient kernel only where it is installed and the tensors are on CUDA (its
reason to exist: long pixel sequences on a GPU); everywhere else torch's SDPA, which picks its
own fused kernel (flash / memory-efficient / math) per device.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F

_HAS_XFORMERS = importlib.util.find_spec("xformers") is not None


def attention_backend(device: torch.device | str) -> str:
    """ "xformers" or "sdpa": the kernel `attention` uses for tensors on `device`."""
    return "xformers" if _HAS_XFORMERS and torch.device(device).type == "cuda" else "sdpa"


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v for (batch, heads, length, head_dim) tensors."""
    if attention_backend(q.device) == "xformers":
        import xformers.ops

        # xformers wants (batch, length, heads, head_dim)
        out = xformers.ops.memory_efficient_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        return out.transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v)
