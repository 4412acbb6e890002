"""Body renderer: the segmented person of the reference photo, skinned to its skeleton and
posed by a target skeleton, over a background plate with the person inpainted away.

A triangle mesh covers the person's mask; every vertex is attached to its nearest bones with
Gaussian weights on the distance to each bone segment, and is moved by the weighted blend of
the bones' affine transforms (linear blend skinning). A bone's transform rotates it about its
parent joint onto the target direction and scales it along its own axis only (foreshortening
without fattening the limb). The photo is then sampled through the mesh's backward map, and
the background plate (inpainted once) shows wherever the person moved away.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from avatarvid.motion.retarget import BONES, NECK, ROOT, torso_length
from avatarvid.perception.pose import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER
from avatarvid.render.raster import TriangleWarpMap

# The torso is one rigid-ish piece (an affine fitted to shoulders and hips) that owns every
# vertex inside its quadrilateral; limbs and the head (neck bone: mid-shoulder to nose) are
# bones. Face-feature bones (nose to eyes, ears, mouth) are too short to skin with.
TORSO_QUAD = (L_SHOULDER, R_SHOULDER, R_HIP, L_HIP)
_TORSO_BONES = {(ROOT, NECK), (ROOT, L_HIP), (ROOT, R_HIP), (NECK, L_SHOULDER), (NECK, R_SHOULDER)}
SKIN_BONES = tuple(
    (p, c)
    for p, c in BONES
    if (p, c) not in _TORSO_BONES and p not in range(0, 11) and c not in range(1, 11)
)
_ARM_JOINTS = frozenset((13, 14, 15, 16, 17, 18, 19, 20, 21, 22))
_MESH_STEP = 1 / 40  # vertex spacing relative to the image's long side
# Skinning weights are a softmax of minus the distance to each part over this fraction of the
# torso length: nearly rigid parts, blended only where two parts are about equally near.
_BLEND = 0.04
_TOP_BONES = 3
_MASK_LEVEL = 0.5


def background_plate(image: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The photo with the (dilated) person inpainted from its surroundings (Telea)."""
    h, w = person.shape
    grow = max(3, round(0.02 * max(h, w)))
    hole = cv2.dilate((person > 0.2).astype(np.uint8), np.ones((grow, grow), np.uint8))
    # Inpainting cost grows with the hole; half resolution is as good for a blurry plate.
    small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, max(3, grow // 2), cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None] > 0, filled, image)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip((points - a) @ ab / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _quad_distance(points: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Distance of each point to the quadrilateral (0 inside)."""
    edges = [_segment_distance(points, quad[i], quad[(i + 1) % 4]) for i in range(4)]
    dist = np.min(edges, axis=0)
    inside = np.array(
        [cv2.pointPolygonTest(quad.astype(np.float32), (float(x), float(y)), False) >= 0
         for x, y in points]
    )  # fmt: skip
    return np.where(inside, 0.0, dist)


def _torso_affine(rest: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares affine taking the rest torso corners onto the posed ones."""
    src = np.hstack([rest[list(TORSO_QUAD)], np.ones((4, 1))])
    sol, *_ = np.linalg.lstsq(src, pose[list(TORSO_QUAD)], rcond=None)
    return sol.T


def _bone_affines(rest: np.ndarray, pose: np.ndarray, bones: list[tuple[int, int]]) -> np.ndarray:
    """(1 + B, 2, 3) affines: the torso's, then each bone's (rotation about its parent joint
    onto the posed direction plus a stretch along the bone's axis only)."""
    out = np.empty((1 + len(bones), 2, 3))
    out[0] = _torso_affine(rest, pose)
    for k, (p, c) in enumerate(bones):
        u, v = rest[c] - rest[p], pose[c] - pose[p]
        lu, lv = max(np.linalg.norm(u), 1e-6), max(np.linalg.norm(v), 1e-6)
        e, f = u / lu, v / lv
        n_e, n_f = np.array([-e[1], e[0]]), np.array([-f[1], f[0]])
        linear = (lv / lu) * np.outer(f, e) + np.outer(n_f, n_e)
        out[k + 1, :, :2] = linear
        out[k + 1, :, 2] = pose[p] - linear @ rest[p]
    return out


class BodyWarper:
    """Poses the person of `image` (mask `person`, skeleton `joints` (35, 2)) by skeletons."""

    def __init__(self, image: np.ndarray, person: np.ndarray, joints: np.ndarray):
        if image.shape[:2] != person.shape:
            raise ValueError(f"mask {person.shape} does not match image {image.shape[:2]}")
        self.image = image
        self.shape = person.shape
        self.rest = np.asarray(joints, dtype=np.float64)
        self.plate = background_plate(image, person)
        self.alpha = person.astype(np.float32)
        self.bones = [(p, c) for p, c in SKIN_BONES if np.isfinite(self.rest[[p, c]]).all()]
        self.vertices, triangles = self._mesh(person)
        self.weights = self._skin_weights(self.vertices)
        self._tris = triangles
        self._map = TriangleWarpMap(triangles, self.vertices, self.shape)
        arm = np.array([0.0] + [c in _ARM_JOINTS for _, c in self.bones], dtype=np.float64)
        # Arms are drawn over the torso where they cross it.
        self._depth = 1.0 - self.weights @ arm

    def _mesh(self, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.shape
        step = max(4, round(_MESH_STEP * max(h, w)))
        inside = (person > _MASK_LEVEL).astype(np.uint8)
        region = cv2.dilate(inside, np.ones((step, step), np.uint8))
        ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
        grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
        grid = grid[region[grid[:, 1].astype(int), grid[:, 0].astype(int)] > 0]
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        edge = [c[:: max(1, step // 2), 0] for c in contours if len(c) > 2]
        points = np.vstack([grid, *edge]).astype(np.float64) if edge else grid
        if len(points) < 3:
            raise ValueError("the person mask is too small to mesh")
        points = np.unique(points, axis=0)
        triangles = Delaunay(points).simplices
        centre = points[triangles].mean(axis=1).astype(int)
        keep = region[centre[:, 1].clip(0, h - 1), centre[:, 0].clip(0, w - 1)] > 0
        return points, triangles[keep]

    def _skin_weights(self, vertices: np.ndarray) -> np.ndarray:
        dist = np.stack(
            [_quad_distance(vertices, self.rest[list(TORSO_QUAD)])]
            + [_segment_distance(vertices, self.rest[p], self.rest[c]) for p, c in self.bones],
            1,
        )
        dist -= dist.min(axis=1, keepdims=True)
        weights = np.exp(-dist / (_BLEND * torso_length(self.rest)))
        cut = np.sort(weights, axis=1)[:, -_TOP_BONES][:, None]
        weights = np.where(weights >= cut, weights, 0.0)
        return weights / weights.sum(axis=1, keepdims=True)

    def pose_vertices(self, joints: np.ndarray) -> np.ndarray:
        """(V, 2) mesh vertices skinned to the (35, 2) target skeleton."""
        affines = _bone_affines(self.rest, np.asarray(joints, np.float64), self.bones)
        blended = np.einsum("vb,bij->vij", self.weights, affines)
        return np.einsum("vij,vj->vi", blended[:, :, :2], self.vertices) + blended[:, :, 2]

    def render_map(self, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(map_x, map_y, coverage): backward maps into the photo for the posed person and
        the (H, W) float32 mask of output pixels the posed mesh covers."""
        h, w = self.shape
        map_y, map_x = np.mgrid[0:h, 0:w].astype(np.float32)
        target = self.pose_vertices(joints)
        found = self._map(target, self._depth)
        if found is not None:
            roi, mx, my = found
            map_x[roi], map_y[roi] = mx, my
        coverage = np.zeros((h, w), np.uint8)
        cv2.fillPoly(coverage, list(np.round(target[self._tris]).astype(np.int32)), 1)
        return map_x, map_y, coverage.astype(np.float32)

    def composite(self, map_x: np.ndarray, map_y: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8: the photo sampled through the maps, over the background plate."""
        person = cv2.remap(
            self.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        alpha = cv2.remap(self.alpha, map_x, map_y, cv2.INTER_LINEAR) * coverage
        a = alpha[..., None]
        return (person * a + self.plate * (1.0 - a) + 0.5).astype(np.uint8)

    def render(self, joints: np.ndarray) -> np.ndarray:
        return self.composite(*self.render_map(joints))
