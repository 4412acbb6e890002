"""Self-reenactment scores: a real talking video's first frame is the photo, the same video
drives it, and every output frame is compared with the real frame it should reproduce.

What a renderer must get right is split into what the pixels show and where the face is:

- face-box, head-box and mouth-box PSNR / SSIM (RGB, the boxes from the *real* frame's face
  mesh; the head box reaches past the face to the hair and ears);
- AKD: mean distance of the 468 mesh landmarks, output vs real, in inter-ocular units;
- AED: the same after a similarity fit of the output's mesh onto the real one (the head pose
  taken out: what is left is expression; a landmark proxy for the 3DMM-coefficient AED of
  the face-reenactment literature);
- mouth-aperture and eye-openness correlation over the frames, output vs real.

The first frame is not scored: it is the photo itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from skimage.metrics import structural_similarity

from avatarvid.evaluate.metrics import eye_aspect_ratio, inter_ocular, mouth_aperture, pearson
from avatarvid.geometry import fit_similarity
from avatarvid.perception.face_mesh import FaceMeshTracker
from avatarvid.perception.landmark_ids import LIPS_OUTER, NUM_MESH

FACE_MARGIN = 0.1  # the face box is the mesh's extent grown by this fraction of its size
HEAD_MARGIN = 0.4  # the head box: the same grown by this much (hair, ears, the head's outline)
MOUTH_MARGIN = 0.25  # the mouth box: the outer lips' extent grown by this much of its width
MAX_PSNR = 60.0  # identical crops: a finite ceiling keeps the means meaningful


def box(points: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[slice, slice]:
    """(rows, cols) of the points' extent grown by `margin` of its larger side, in the image."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    grow = margin * float(np.max(hi - lo))
    x0, y0 = np.floor(lo - grow).astype(int)
    x1, y1 = np.ceil(hi + grow).astype(int)
    h, w = shape
    return slice(max(0, y0), min(h, y1 + 1)), slice(max(0, x0), min(w, x1 + 1))


def crop_scores(output: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of two uint8 RGB crops of the same size."""
    mse = float(np.mean(np.square(real.astype(np.float64) - output.astype(np.float64))))
    psnr = MAX_PSNR if mse == 0 else min(MAX_PSNR, 10 * np.log10(255.0**2 / mse))
    win = min(7, *real.shape[:2])
    ssim = structural_similarity(
        real, output, channel_axis=-1, data_range=255, win_size=win - 1 + win % 2
    )
    return float(psnr), float(ssim)


def landmark_errors(output: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """(AKD, AED) of two (>=468, 2+) meshes in the real face's inter-ocular units."""
    out, ref = output[:NUM_MESH, :2].astype(np.float64), real[:NUM_MESH, :2].astype(np.float64)
    unit = inter_ocular(real)
    akd = float(np.linalg.norm(out - ref, axis=1).mean()) / unit
    aligned = fit_similarity(out, ref).apply(out)
    aed = float(np.linalg.norm(aligned - ref, axis=1).mean()) / unit
    return akd, aed


def with_meshes(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Each frame with its face mesh, detected on its own (None where no face is found).

    Not in mediapipe's tracking mode: on a warped video it over-read the head's scale changes
    (cap13 self-reenactment, rigid-point spread on three frames: 1.117-1.129 tracked against
    1.072-1.078 detected per frame, 1.071-1.073 on the real frames)."""
    with FaceMeshTracker(static_image_mode=True, max_faces=1) as tracker:
        for frame in frames:
            found = tracker.detect(frame)
            yield frame, found[0].landmarks if found else None


class ReenactScores:
    """Accumulates per-frame comparisons of one output against the real video."""

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {
            f"{region}_{score}": []
            for region in ("face", "head", "mouth")
            for score in ("psnr", "ssim")
        } | {"akd": [], "aed": []}
        self.mouth: list[tuple[float, float]] = []  # (real, output) per frame both have a face
        self.eye: list[tuple[float, float]] = []
        self.frames = 0
        self.faces_lost = 0  # frames where the real face is found but the output's is not

    def add(
        self, output: np.ndarray, real: np.ndarray, out_mesh: np.ndarray | None,
        real_mesh: np.ndarray | None,
    ) -> None:  # fmt: skip
        """One frame pair (uint8 RGB of the same shape) and their meshes (None: no face)."""
        if output.shape != real.shape:
            raise ValueError(f"output frame {output.shape} vs real frame {real.shape}")
        self.frames += 1
        if real_mesh is None:
            return
        shape = real.shape[:2]
        for name, points, margin in (
            ("face", real_mesh[:NUM_MESH, :2], FACE_MARGIN),
            ("head", real_mesh[:NUM_MESH, :2], HEAD_MARGIN),
            ("mouth", real_mesh[list(LIPS_OUTER), :2], MOUTH_MARGIN),
        ):
            region = box(points, margin, shape)
            psnr, ssim = crop_scores(output[region], real[region])
            self.rows[f"{name}_psnr"].append(psnr)
            self.rows[f"{name}_ssim"].append(ssim)
        if out_mesh is None:
            self.faces_lost += 1
            return
        akd, aed = landmark_errors(out_mesh, real_mesh)
        self.rows["akd"].append(akd)
        self.rows["aed"].append(aed)
        self.mouth.append((mouth_aperture(real_mesh), mouth_aperture(out_mesh)))
        self.eye.append((eye_aspect_ratio(real_mesh), eye_aspect_ratio(out_mesh)))

    def summary(self) -> dict[str, float | int]:
        """Means over the scored frames, the openness correlations and the frame counts."""
        out: dict[str, float | int] = {
            k: round(float(np.mean(v)), 4) if v else float("nan") for k, v in self.rows.items()
        }
        for name, pairs in (("mouth_corr", self.mouth), ("eye_corr", self.eye)):
            both = np.array(pairs, np.float64).reshape(-1, 2)
            out[name] = round(pearson(both[:, 0], both[:, 1]), 3) + 0.0
        out["frames"], out["faces_lost"] = self.frames, self.faces_lost
        return out
