"""Face landmarks from mediapipe's face mesh, converted to the project's landmark contract.

Contract: a face's landmarks are a (478, 3) float32 array in pixel units of the image they
were detected on (x, y in continuous pixel coordinates, pixel i spans [i, i + 1)); z is
mediapipe's depth times the image width, so it has the same scale as x (+z = away from camera).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarvid.errors import InputError, NoFaceError
from avatarvid.perception.face_detection import find_face_boxes
from avatarvid.perception.framing import apply_affine, crop_square, invert_affine
from avatarvid.perception.landmark_ids import NUM_LANDMARKS
from avatarvid.perception.mp_runtime import (
    MediapipeGraph,
    check_rgb,
    silenced_stderr,
)

REFERENCE_MAX_FACES = 5
# Side of the square crop around a detector box, relative to the box, and the size it is
# resampled to: the mesh's own detector finds a face that fills ~40% of a 256 px crop.
_CROP_CONTEXT = 2.5
_CROP_SIZE = 256


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face. eq=False: faces compare by identity (arrays have no truth value)."""

    landmarks: np.ndarray
    bbox: tuple[float, float, float, float]

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> Face:
        """Build a face whose bbox is the extent of its landmarks (forehead to chin, no hair)."""
        landmarks = np.asarray(landmarks, dtype=np.float32)
        if landmarks.shape != (NUM_LANDMARKS, 3):
            raise ValueError(f"expected ({NUM_LANDMARKS}, 3) landmarks, got {landmarks.shape}")
        x0, y0 = landmarks[:, :2].min(axis=0)
        x1, y1 = landmarks[:, :2].max(axis=0)
        return cls(landmarks, (float(x0), float(y0), float(x1), float(y1)))

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2

    def contains(self, x: float, y: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        return x0 <= x <= x1 and y0 <= y <= y1


class FaceMeshTracker(MediapipeGraph):
    """mediapipe FaceMesh (refined: 478 points with irises) returning `Face`s in pixels.

    static_image_mode=True detects every image from scratch (photos); False tracks across
    consecutive video frames, which is faster and steadier. Use as a context manager.
    """

    def __init__(self, static_image_mode: bool = True, max_faces: int = 1) -> None:
        super().__init__(
            lambda solutions: solutions.face_mesh.FaceMesh(
                static_image_mode=static_image_mode,
                max_num_faces=max_faces,
                refine_landmarks=True,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            )
        )
        self._warm = False

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in `rgb` (HxWx3 uint8), largest bbox first."""
        rgb = check_rgb(rgb)
        if self._warm:
            result = self._graph.process(rgb)
        else:
            with silenced_stderr():  # the first face runs the landmark models, which log
                result = self._graph.process(rgb)
            self._warm = bool(result.multi_face_landmarks)
        height, width = rgb.shape[:2]
        scale = np.array([width, height, width], dtype=np.float32)
        faces = [
            Face.from_landmarks(
                np.array([(p.x, p.y, p.z) for p in found.landmark], dtype=np.float32) * scale
            )
            for found in result.multi_face_landmarks or []
        ]
        return sorted(faces, key=lambda face: face.area, reverse=True)


def find_faces(rgb: np.ndarray, max_faces: int = REFERENCE_MAX_FACES) -> list[Face]:
    """All faces in a photo, largest first.

    The mesh's own detector only sees faces that fill a good part of the frame, so faces
    the full-range detector finds elsewhere are meshed again on a crop around them.
    """
    rgb = check_rgb(rgb)
    with FaceMeshTracker(static_image_mode=True, max_faces=max_faces) as mesh:
        faces = mesh.detect(rgb)
    boxes = [b for b in find_face_boxes(rgb, search_tiles=not faces) if not _covered(b, faces)]
    if boxes:
        with FaceMeshTracker(static_image_mode=True, max_faces=1) as mesh:
            for box in boxes:
                face = _mesh_around(mesh, rgb, box)
                if face is not None and not _covered(face.bbox, faces):
                    faces.append(face)
    return sorted(faces, key=lambda face: face.area, reverse=True)[:max_faces]


def _covered(box: tuple[float, float, float, float], faces: list[Face]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(face.contains(cx, cy) for face in faces)


def _mesh_around(
    mesh: FaceMeshTracker, rgb: np.ndarray, box: tuple[float, float, float, float]
) -> Face | None:
    side = _CROP_CONTEXT * max(box[2] - box[0], box[3] - box[1])
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    crop, affine = crop_square(rgb, centre, side, _CROP_SIZE)
    found = mesh.detect(crop)
    if not found:
        return None
    return Face.from_landmarks(apply_affine(found[0].landmarks, invert_affine(affine)))


def detect_reference_face(
    rgb: np.ndarray, face_index: int | None = None, source: str | Path | None = None
) -> Face:
    """The face to animate: the largest one, or the `face_index`-th largest when given.

    Raises NoFaceError (naming `source`, the file the image came from) without a face and
    InputError for a bad index; warns (naming --face-index) when several faces were found and
    none was chosen.
    """
    faces = find_faces(rgb)
    if not faces:
        where = f"{source}: " if source is not None else ""
        raise NoFaceError(
            f"{where}no face found in the image; use a photo where one face is clearly visible"
        )
    if face_index is not None:
        if not 0 <= face_index < len(faces):
            raise InputError(
                f"--face-index {face_index} is out of range: the image has {len(faces)} "
                f"face(s), numbered 0 to {len(faces) - 1} from largest to smallest"
            )
        return faces[face_index]
    if len(faces) > 1:
        warnings.warn(
            f"found {len(faces)} faces in the image; animating the largest "
            f"(pass --face-index 0..{len(faces) - 1} to choose another, largest first)",
            stacklevel=2,
        )
    return faces[0]
