"""Building blocks of the body warp's matte (warp/body.py cuts the selfie mask to the body).

Selfie segmentation takes in whatever touches the person (a ball at the feet, a bag in the
hand); a pixel of it whose colour the limb's core never shows is not the limb (colour_support),
nor is one of the core whose colour is more the rejected pixels' than the core's (likelier_in),
and pieces left unattached to the skeleton are not the person (attached). Its edge is also
blurry and a few pixels off, so the old background would travel with the person as a halo: a
guided filter (He et al., with the photo's colours as guide) snaps the alpha onto the photo's
own edges (refine_edge).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter


def _box(a: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(a, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """(H, W) `src` filtered to follow the edges of the (H, W, 3) float32 `guide` in [0, 1]
    (the colour guided filter: a local linear model of src in the guide's channels)."""
    n = guide.shape[2]
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src[..., None], radius) - mean_i * mean_p[..., None]
    var = _box(np.einsum("hwi,hwj->hwij", guide, guide).reshape(*src.shape, n * n), radius)
    var = var.reshape(*src.shape, n, n) - np.einsum("hwi,hwj->hwij", mean_i, mean_i)
    a = np.linalg.solve(var + eps * np.eye(n, dtype=np.float32), cov_ip[..., None])[..., 0]
    b = mean_p - np.einsum("hwi,hwi->hw", a, mean_i)
    return np.einsum("hwi,hwi->hw", _box(a, radius), guide) + _box(b, radius)


def attached(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The parts of the binary (H, W) `mask` connected to any of the (N, 2) x y `seeds`."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    h, w = mask.shape
    xy = np.round(seeds).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    hit = np.unique(labels[xy[inside, 1], xy[inside, 0]])
    return np.isin(labels, hit[hit > 0])


def refine_edge(image: np.ndarray, alpha: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """(H, W) float32 `alpha` snapped to the edges of the RGB uint8 `image`, changed only in a
    band `radius` wide around its outline (inside and far outside it stays as it was)."""
    guide = image.astype(np.float32) / 255
    filtered = np.clip(guided_filter(guide, alpha.astype(np.float32), radius, eps), 0, 1)
    hard = (alpha > 0.5).astype(np.uint8)
    kernel = np.ones((2 * radius + 1,) * 2, np.uint8)
    edge = (cv2.dilate(hard, kernel) - cv2.erode(hard, kernel)) > 0
    return np.where(edge, filtered, alpha).astype(np.float32)


def _bins(rgb: np.ndarray, bins: int) -> np.ndarray:
    q = rgb.astype(np.int64) * bins // 256
    return (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]


def _histogram(rgb: np.ndarray, bins: int) -> np.ndarray:
    """The (bins**3,) colour histogram of the (N, 3) uint8 `rgb`, blurred by a bin so shading
    nearby still counts."""
    hist = np.bincount(_bins(rgb, bins), minlength=bins**3).reshape(bins, bins, bins)
    return gaussian_filter(hist.astype(np.float32), 1.0).ravel()


def colour_support(core: np.ndarray, query: np.ndarray, bins: int = 16) -> np.ndarray:
    """(M,) how common each (M, 3) uint8 `query` colour is among the (N, 3) `core` colours,
    in [0, 1] (a colour histogram, blurred by a bin so shading nearby still counts)."""
    hist = _histogram(core, bins)
    return hist[_bins(query, bins)] / max(float(hist.max()), 1e-9)


def likelier_in(
    foreign: np.ndarray, core: np.ndarray, query: np.ndarray, bins: int = 16
) -> np.ndarray:
    """(M,) bool: whether each (M, 3) uint8 `query` colour is a larger share of the `foreign`
    colours than of the `core` ones (both (N, 3) uint8; blurred histograms as above). A prop
    that reaches into a limb's core lends the core a little of its colour, too little to
    tell it apart by support alone, but its colour is most of what the limb's rim rejected."""
    f, c = _histogram(foreign, bins), _histogram(core, bins)
    index = _bins(query, bins)
    return f[index] / max(float(f.sum()), 1e-9) > c[index] / max(float(c.sum()), 1e-9)
