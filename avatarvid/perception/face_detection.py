"""Face boxes from mediapipe's full-range face detector, searched in tiles for small faces.

The detector looks at a 192 px downscale of its input, so a face smaller than ~5% of the
photo's side is invisible to it; overlapping tiles of half, then a quarter, of the photo
bring such faces back into its range. Only used to find faces for the face mesh.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avatarvid.perception.mp_runtime import check_rgb, mediapipe_solutions, silenced_stderr

Box = tuple[float, float, float, float]

MIN_SCORE = 0.5
_MIN_TILE = 192  # the detector's input size: smaller tiles cannot reveal smaller faces
_TILE_FRACTIONS = (0.5, 0.25)
_NMS_IOU = 0.3


def find_face_boxes(rgb: np.ndarray, search_tiles: bool = True) -> list[Box]:
    """Face boxes (x0, y0, x1, y1) in pixels, best score first.

    Looks at the whole image, then (if `search_tiles` and nothing was found) at ever finer
    overlapping tiles, stopping at the first level that finds a face.
    """
    rgb = check_rgb(rgb)
    height, width = rgb.shape[:2]
    solutions = mediapipe_solutions()
    with silenced_stderr():
        detector = solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=MIN_SCORE
        )
    with detector, silenced_stderr():
        levels = [[(0, 0, width, height)]]
        if search_tiles:
            for fraction in _TILE_FRACTIONS:
                tile = int(min(height, width) * fraction)
                if tile >= _MIN_TILE:
                    levels.append(_tiles(width, height, tile))
        for tiles in levels:
            found = [hit for tile in tiles for hit in _detect(detector, rgb, tile)]
            if found:
                return _non_max_suppression(found)
    return []


def _tiles(width: int, height: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Square tiles overlapping by half, the last row and column flush with the image edge."""
    xs = sorted({*range(0, width - tile, tile // 2), width - tile})
    ys = sorted({*range(0, height - tile, tile // 2), height - tile})
    return [(x, y, x + tile, y + tile) for y in ys for x in xs]


def _detect(
    detector: Any, rgb: np.ndarray, tile: tuple[int, int, int, int]
) -> list[tuple[float, Box]]:
    x0, y0, x1, y1 = tile
    result = detector.process(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
    hits = []
    for detection in result.detections or []:
        rel = detection.location_data.relative_bounding_box
        bx = x0 + rel.xmin * (x1 - x0)
        by = y0 + rel.ymin * (y1 - y0)
        box = (bx, by, bx + rel.width * (x1 - x0), by + rel.height * (y1 - y0))
        hits.append((float(detection.score[0]), box))
    return hits


def _non_max_suppression(hits: list[tuple[float, Box]]) -> list[Box]:
    """One box per face: overlapping tiles report the same face several times."""
    kept: list[Box] = []
    for _, box in sorted(hits, key=lambda hit: hit[0], reverse=True):
        if all(_iou(box, other) < _NMS_IOU for other in kept):
            kept.append(box)
    return kept


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
