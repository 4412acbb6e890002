"""Body renderer: the segmented person of the reference photo, skinned to its skeleton and
posed by a target skeleton, over a background plate with the person inpainted away.

The person's pixels are split into parts (body = torso and head, each arm, each leg) by their
nearest bone, and every part gets its own triangle mesh over its own pixels only. One mesh
over the whole silhouette would bridge the gap between an arm and the torso with triangles
that stretch into "batwings" when the arm lifts, smearing the sleeve over the background and
moving the torso's outline. Within a part, each vertex is attached to the part's bones and the
torso with softmax weights on the distance to each (linear blend skinning), so the shoulder
and hip seams bend smoothly. A bone's transform rotates it about its parent joint onto the
target direction and scales it along its own axis only (foreshortening without fattening).
Parts are drawn back to front over the background plate (inpainted once): by default legs,
body, arms; with the driver's depth (motion/depth_order.py) a limb passing behind the body is
drawn before it, one reaching towards the camera after it. Each has its own alpha, and the
body's alpha reaches a little under the limbs so a turning joint never opens a crack.

The person is not the selfie mask as it comes: that takes in what the person touches (a ball
at the feet, a box at the hand, a pole behind an arm), which would move with the nearest limb
and leave an inpainted smear where it stood. A pixel stays the person's only within its
nearest bone's reach (the limb's width there), with the colours of that limb's core near its
rim, and attached to the skeleton; the rest stays in the plate, untouched. The matte's edge is
snapped to the photo's (warp/matte.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from avatarvid.motion.retarget import BONES, NECK, ROOT, torso_length
from avatarvid.perception.pose import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER
from avatarvid.warp.matte import attached, colour_support, likelier_in, refine_edge
from avatarvid.warp.mouth import Overlay
from avatarvid.warp.raster import TriangleWarpMap

# The torso is one rigid-ish piece (an affine fitted to shoulders and hips); limbs and the
# head (neck bone: mid-shoulder to nose) are bones. Face-feature bones (nose to eyes, ears,
# mouth) are too short to skin with.
TORSO_QUAD = (L_SHOULDER, R_SHOULDER, R_HIP, L_HIP)
_TORSO_BONES = {(ROOT, NECK), (ROOT, L_HIP), (ROOT, R_HIP), (NECK, L_SHOULDER), (NECK, R_SHOULDER)}
SKIN_BONES = tuple(
    (p, c)
    for p, c in BONES
    if (p, c) not in _TORSO_BONES and p not in range(0, 11) and c not in range(1, 11)
)
# Parts in drawing order (back to front), each named by the child joints of its bones; the
# body part holds the torso and every bone not listed (the head).
PARTS = (
    ("left leg", frozenset((25, 27, 29, 31))),
    ("right leg", frozenset((26, 28, 30, 32))),
    ("body", frozenset()),
    ("left arm", frozenset((13, 15, 17, 19, 21))),
    ("right arm", frozenset((14, 16, 18, 20, 22))),
)
_BODY = 2
# The limbs whose order against the body can change (render's `front`), as in
# motion/depth_order.py: left arm, right arm, left leg, right leg.
LIMBS = (3, 4, 0, 1)
_MESH_STEP = 1 / 40  # vertex spacing relative to the image's long side
# Skinning weights are a softmax of minus the distance to each part over this fraction of the
# torso length: nearly rigid parts, blended only where two parts are about equally near.
_BLEND = 0.04
_TOP_BONES = 3
_MASK_LEVEL = 0.5
# How far (torso lengths) the person may reach beyond the torso quad and beyond the head's
# bone; a limb reaches _LIMB_REACH times its half-width (the mask's distance transform at its
# thickest within _AXIS_SEARCH of the bone) plus _LIMB_MARGIN, at least _LIMB_FLOOR: farther
# pixels of the selfie mask are props, not the limb. Beyond _CORE of its reach a limb's pixel
# must have a colour of the limb's core (support in its colour histogram >= _COLOUR_SUPPORT).
# Set on the validation prop scene (study eval_animate_scene) at 256 and 512 px.
_TORSO_REACH = 0.3
_HEAD_REACH = 0.5
_LIMB_REACH = 1.15
_LIMB_MARGIN = 0.04
_LIMB_FLOOR = 0.08
_AXIS_SEARCH = 0.1
_CORE = 0.35
_COLOUR_SUPPORT = 0.02
_FOREIGN_WIDTH = 0.01  # of the long side: narrower pieces of foreign colour are the edge
# Hand and foot bones (by child joint): a prop the person touches can reach into their core.
_HANDS_FEET = frozenset((17, 18, 19, 20, 21, 22, 29, 30, 31, 32))
_PAIRS = {0: 1, 1: 0, 3: 4, 4: 3}  # each limb part and the other limb of its pair
_EDGE = 1 / 96  # guided filter radius, relative to the image's long side
_EDGE_EPS = 1e-4
_PLATE_GROW = 0.01  # the plate's hole: the person dilated by this fraction of the long side


def background_plate(
    image: np.ndarray, person: np.ndarray, props: np.ndarray | None = None
) -> np.ndarray:
    """The photo with the (slightly dilated) person inpainted from its surroundings. The hole
    grows into `props` (pixels cut from the selfie mask) only under the matte's soft edge
    (alpha > 0.05; the rest stay as they are), and the fill does not draw from them: a ball
    against the shoe lost its rim to the grown hole and bled its colour into the fill (prop
    scene at 512 px: mean plate change over the ball 27.9 grey levels, now 0.8). Keeping
    every prop pixel out of the hole (alpha <= 0.2) left the person's old soft edge in the
    plate as a trail.

    Navier-Stokes at half resolution. On the prop scene's known room (study
    eval_animate_scene, 256 px) the fills score alike (NS 4.43, Telea 4.52, NS at full
    resolution 4.48 grey levels where the person was); a Criminisi patch fill scored 5.1 (it
    copied the props and the pole into the hole), and growing the hole by 2-4 % of the image
    instead of 1 % (the selfie mask's edge needed it before refine_edge) cost 4.7-5.8 and
    smeared the props around it into the fill.
    """
    h, w = person.shape
    grow = max(3, round(_PLATE_GROW * max(h, w)))
    hole = cv2.dilate((person > 0.2).astype(np.uint8), np.ones((grow, grow), np.uint8))
    unknown = hole
    if props is not None:
        hole = np.where(props & (person <= 0.05), 0, hole).astype(np.uint8)
        unknown = hole | props.astype(np.uint8)
    # Inpainting cost grows with the hole; half resolution is as good for a blurry plate.
    small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(unknown, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, max(3, grow // 2), cv2.INPAINT_NS)
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
    path = cv2.convexHull(quad.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    inside = np.ones(len(points), bool)
    for i in range(len(path)):  # a convex polygon: inside = on the same side of every edge
        a, b = path[i], path[(i + 1) % len(path)]
        cross = (b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0])
        inside &= cross * _orientation(path) >= 0
    return np.where(inside, 0.0, dist)


def _orientation(path: np.ndarray) -> float:
    x, y = path[:, 0], path[:, 1]
    return float(np.sign(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) or 1.0)


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


def _mesh(region: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices (a grid plus the outline) and triangles covering the binary `region`."""
    h, w = region.shape
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    grid = grid[region[grid[:, 1].astype(int), grid[:, 0].astype(int)] > 0]
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    edge = [c[:: max(1, step // 2), 0] for c in contours if len(c) > 2]
    points = np.unique(np.vstack([grid, *edge]).astype(np.float64), axis=0)
    if len(points) < 3 or np.linalg.matrix_rank(points[1:] - points[0]) < 2:
        return None
    triangles = Delaunay(points).simplices
    centre = points[triangles].mean(axis=1).astype(int)
    keep = region[centre[:, 1].clip(0, h - 1), centre[:, 0].clip(0, w - 1)] > 0
    return points, triangles[keep]


@dataclass
class _Layer:
    """One part: its mesh (indices into the warper's vertices) and its alpha in the photo."""

    part: int
    vertices: np.ndarray  # (V,) indices
    triangles: np.ndarray  # (F, 3) indices into this layer's vertices
    warp: TriangleWarpMap
    alpha: np.ndarray  # (H, W) float32


# An optional map composed after the body's: (map_x, map_y) into the posed photo -> the same
# into the photo (the face warp in animate).
SourceMap = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class BodyWarper:
    """Poses the person of `image` (mask `person`, skeleton `joints` (35, 2)) by skeletons."""

    def __init__(self, image: np.ndarray, person: np.ndarray, joints: np.ndarray):
        if image.shape[:2] != person.shape:
            raise ValueError(f"mask {person.shape} does not match image {image.shape[:2]}")
        self.image = image
        self.shape = person.shape
        self.rest = np.asarray(joints, dtype=np.float64)
        self.bones = [(p, c) for p, c in SKIN_BONES if np.isfinite(self.rest[[p, c]]).all()]
        # Part of each candidate (torso first, then the bones).
        self._part = np.array([_BODY] + [_part_of(c) for _, c in self.bones])
        radius = max(2, round(_EDGE * max(self.shape)))
        cut = self._cut_to_body(person)
        self.matte = refine_edge(image, cut, radius, _EDGE_EPS)
        self.plate = background_plate(image, self.matte, props=(person > 0.05) & (cut < 0.05))
        person = self.matte
        labels = self._label_pixels(person)
        step = max(4, round(_MESH_STEP * max(self.shape)))
        vertices, self.layers = [], []
        count = 0
        for part in range(len(PARTS)):
            own = ((labels == part) & (person > _MASK_LEVEL)).astype(np.uint8)
            if not own.any():
                continue
            mesh = _mesh(cv2.dilate(own, np.ones((step, step), np.uint8)), step)
            if mesh is None:
                continue
            points, triangles = mesh
            # The body's alpha reaches under the limbs' roots: no crack opens at a turning
            # joint; the limbs, drawn on top, cover it where they are.
            grow = step // 2 if part == _BODY else 1
            alpha = cv2.dilate(own, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
            alpha = cv2.GaussianBlur(alpha.astype(np.float32), (3, 3), 0) * person
            index = np.arange(count, count + len(points))
            warp = TriangleWarpMap(triangles, points, self.shape)
            self.layers.append(_Layer(part, index, triangles, warp, alpha))
            vertices.append(points)
            count += len(points)
        if not self.layers:
            raise ValueError("the person mask is too small to mesh")
        self.vertices = np.vstack(vertices)
        self.weights = np.vstack(
            [self._skin_weights(self.vertices[la.vertices], la.part) for la in self.layers]
        )

    def _distances(self, points: np.ndarray) -> np.ndarray:
        """(N, 1 + B) distance of each point to the torso quad and to each bone."""
        return np.stack(
            [_quad_distance(points, self.rest[list(TORSO_QUAD)])]
            + [_segment_distance(points, self.rest[p], self.rest[c]) for p, c in self.bones],
            1,
        )

    def _bone_points(self, fractions: np.ndarray) -> np.ndarray:
        """(B, F, 2) points at `fractions` of the way along each bone."""
        p = self.rest[[p for p, _ in self.bones]][:, None]
        c = self.rest[[c for _, c in self.bones]][:, None]
        return p + fractions[None, :, None] * (c - p)

    def _reach(self, person: np.ndarray) -> np.ndarray:
        """(1 + B,) how far from the torso quad and from each bone the person extends."""
        torso = torso_length(self.rest)
        inside = cv2.distanceTransform(
            (person > _MASK_LEVEL).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
        )
        h, w = self.shape
        # The thickest point near the bone: the pose model's joints sit off the limb's medial
        # axis, where the distance to the nearer edge understates the limb's width.
        near = 2 * max(1, round(_AXIS_SEARCH * torso)) + 1
        inside = cv2.dilate(inside, np.ones((near, near), np.uint8))
        xy = np.round(self._bone_points(np.linspace(0.25, 0.75, 7))).astype(int)
        half = inside[xy[..., 1].clip(0, h - 1), xy[..., 0].clip(0, w - 1)]
        limb = _LIMB_REACH * np.median(half, axis=1) + _LIMB_MARGIN * torso
        limb = np.maximum(limb, _LIMB_FLOOR * torso)
        head = self._part[1:] == _BODY
        limb[head] = np.maximum(_LIMB_REACH * half[head].max(axis=1), _HEAD_REACH * torso)
        return np.concatenate([[_TORSO_REACH * torso], limb])

    def _cut_to_body(self, person: np.ndarray) -> np.ndarray:
        """The selfie mask without what lies beyond the body's reach from its nearest bone,
        what near a limb's rim has none of the limb's colours, what at a hand or foot has
        neither its limb's colours nor the other hand's or foot's, and what is then left
        unattached to the skeleton (props the person touches). The head and torso keep
        their whole rim: hair and clothes vary too much in colour to judge them by it."""
        ys, xs = np.nonzero(person > 0.05)
        if not len(ys):
            return person
        dist = self._distances(np.stack([xs, ys], 1).astype(np.float64))
        best = np.argmin(dist, axis=1)
        reach = self._reach(person)[best]
        dist = dist[np.arange(len(best)), best]
        near = dist <= reach
        # Near the rim of its reach, a pixel must also share the colours of its part's core;
        # only pieces of foreign colour wider than the outline's soft edge go (cutting that
        # edge thinned the limbs: on the synthetic driver mediapipe read the output's ankles
        # worse, PCK@0.1 0.821 against 0.849, main 0.856).
        core = (dist <= _CORE * reach) & (person[ys, xs] > _MASK_LEVEL)
        rim = near & ~core
        colours = self.image[ys, xs]
        ends = np.array([False] + [c in _HANDS_FEET for _, c in self.bones])
        foreign = np.zeros(self.shape, np.uint8)
        for part in set(np.unique(self._part[best])) - {_BODY}:
            own = self._part[best] == part
            if not ((own & core).any() and (own & rim).any()):
                continue
            odd = own & rim
            odd[odd] = colour_support(colours[own & core], colours[odd]) < _COLOUR_SUPPORT
            # A prop can reach into the core of a hand or a foot, where the pose model's points
            # are least sure (on the prop scene it put the heel inside the ball against the
            # shoe): a core pixel there of the colours the rim rejected is foreign too.
            inner = own & core & ends[best] & odd.any()
            if inner.any():
                inner[inner] = likelier_in(colours[odd], colours[own & core], colours[inner])
            foreign[ys[odd | inner], xs[odd | inner]] = 1
        width = max(3, round(_FOREIGN_WIDTH * max(self.shape)) | 1)
        foreign |= self._unpaired(person, ys, xs, best, near, core, width)
        foreign = cv2.morphologyEx(foreign, cv2.MORPH_OPEN, np.ones((width, width), np.uint8))
        near &= foreign[ys, xs] == 0
        cut = np.zeros_like(person)
        cut[ys[near], xs[near]] = person[ys[near], xs[near]]
        seeds = self._bone_points(np.linspace(0, 1, 5)).reshape(-1, 2)
        seeds = np.vstack([seeds, self.rest[list(TORSO_QUAD)].mean(axis=0, keepdims=True)])
        return np.where(attached(cut > 0.05, seeds), cut, 0.0).astype(np.float32)

    def _unpaired(
        self,
        person: np.ndarray,
        ys: np.ndarray,
        xs: np.ndarray,
        best: np.ndarray,
        near: np.ndarray,
        core: np.ndarray,
        width: int,
    ) -> np.ndarray:
        """(H, W) uint8: hand and foot pixels (of the selfie pixels `ys`, `xs` with nearest
        bone `best`) of neither their own limb's core colours nor the other hand's or foot's
        (shoes come in pairs). Where the pose model put the toe inside a ball against the
        shoe, the ball is all core and no rim rejects it. Judged on the mask's solid pixels,
        in pieces joined to one wider than the soft edge (a hand's blurry outline is not a
        prop), and the soft edge beside them; markings as narrow as the soft edge enclosed
        by a prop's colour (a seam across the ball) go with it. Only while both hands or
        feet are in the mask."""
        ends = np.array([False] + [c in _HANDS_FEET for _, c in self.bones])[best]
        part = self._part[best]
        colours = self.image[ys, xs]
        odd = np.zeros(len(ys), bool)
        for limb, pair in _PAIRS.items():
            end = (part == limb) & ends & near
            shown = [colours[(part == limb) & core & ~ends], colours[(part == pair) & core & ends]]
            if not end.any() or not all(len(c) for c in shown):
                continue  # the other hand or foot out of sight: a sleeve is not the hand's colour
            support = np.max([colour_support(c, colours[end]) for c in shown], axis=0)
            odd[end] = support < _COLOUR_SUPPORT
        solid = person[ys, xs] > _MASK_LEVEL
        region, seed, soft = (np.zeros(self.shape, np.uint8) for _ in range(3))
        region[ys[ends & near & solid], xs[ends & near & solid]] = 1
        seed[ys[odd & solid], xs[odd & solid]] = 1
        soft[ys[odd & ~solid], xs[odd & ~solid]] = 1
        kernel = np.ones((width, width), np.uint8)
        inner = cv2.morphologyEx(seed, cv2.MORPH_CLOSE, kernel) & region
        wide = cv2.morphologyEx(inner, cv2.MORPH_OPEN, kernel)
        inner = attached(inner, np.argwhere(wide)[:, ::-1]).astype(np.uint8)
        return inner | (soft & cv2.dilate(inner, kernel))

    def _label_pixels(self, person: np.ndarray) -> np.ndarray:
        """(H, W) part index of every person pixel (by its nearest bone), -1 elsewhere."""
        labels = np.full(self.shape, -1, np.int8)
        ys, xs = np.nonzero(person > 0.05)
        if len(ys):
            dist = self._distances(np.stack([xs, ys], 1).astype(np.float64))
            labels[ys, xs] = self._part[np.argmin(dist, axis=1)]
        return labels

    def _skin_weights(self, vertices: np.ndarray, part: int) -> np.ndarray:
        """Weights over (torso, bones...) for the vertices of one part: the part's own bones
        and the torso only, so no vertex follows a limb it is not on."""
        dist = self._distances(vertices)
        dist[:, (self._part != part) & (np.arange(len(self._part)) > 0)] = np.inf
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

    def body_weights(self, points: np.ndarray) -> np.ndarray:
        """(N, 1 + B) skin weights of (N, 2) points on the photo's body part (the head's face
        landmarks), for `pose_points`."""
        return self._skin_weights(np.asarray(points, np.float64), _BODY)

    def pose_points(
        self, points: np.ndarray, joints: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """(N, 2) points of the photo's body part (the head: face landmarks) where the
        (35, 2) target skeleton carries them, skinned with `weights` (`body_weights`)."""
        points = np.asarray(points, np.float64)
        affines = _bone_affines(self.rest, np.asarray(joints, np.float64), self.bones)
        blended = np.einsum("vb,bij->vij", weights, affines)
        return np.einsum("vij,vj->vi", blended[:, :, :2], points) + blended[:, :, 2]

    def _coverage(
        self,
        layer: _Layer,
        posed: np.ndarray,
        roi: tuple[slice, slice],
        map_x: np.ndarray,
        map_y: np.ndarray,
    ) -> np.ndarray:
        """(roi) uint8: the layer's pixels in the output. Where its triangles moved, the
        pixels the warp map moved (a polygon fill of the posed triangles rounds their edges
        outwards, and its rim of identity-mapped pixels showed the photo's old limb there: a
        dotted trail beside a swinging leg); where they stayed, their polygons."""
        origin = np.array([roi[1].start, roi[0].start])
        still = (np.abs(posed - layer.warp.source).max(axis=1) <= 1e-3)[layer.triangles].all(1)
        coverage = np.zeros(map_x.shape, np.uint8)
        tris = np.round(posed[layer.triangles[still]] - origin).astype(np.int32)
        for tri in tris:  # one at a time: fillPoly of many polygons XORs their overlaps
            cv2.fillConvexPoly(coverage, tri, 1)
        xs = np.arange(roi[1].start, roi[1].stop, dtype=np.float32)
        ys = np.arange(roi[0].start, roi[0].stop, dtype=np.float32)
        moved = (map_x != xs[None, :]) | (map_y != ys[:, None])
        return coverage | moved.astype(np.uint8)

    def _ordered(self, front: Sequence[bool] | None) -> list[_Layer]:
        """The layers back to front: limbs behind the body, the body, limbs in front (each
        group in PARTS order); `front` per LIMBS, None for PARTS order (legs behind, arms in
        front)."""
        if front is None:
            return self.layers
        ahead = dict(zip(LIMBS, front, strict=True))

        def depth(layer: _Layer) -> int:
            return 1 if layer.part == _BODY else 2 if ahead[layer.part] else 0

        return sorted(self.layers, key=depth)

    def render(
        self,
        joints: np.ndarray,
        source_map: SourceMap | None = None,
        front: Sequence[bool] | None = None,
        overlay: Overlay | None = None,
    ) -> np.ndarray:
        """(H, W, 3) uint8: the person posed by `joints` over the background plate, each
        part sampled from the photo through its mesh (then through `source_map`, if given),
        the limbs in front of the body or behind it as `front` says (per LIMBS). `overlay`
        is painted on the body part (head and torso) in the coordinates `source_map` takes,
        so what `source_map` cannot draw (an opened mouth's interior) follows the body and
        stays behind a limb in front of it."""
        h, w = self.shape
        out = self.plate.astype(np.float32)
        target = self.pose_vertices(joints)
        for layer in self._ordered(front):
            posed = target[layer.vertices]
            found = layer.warp(posed)
            if found is None:  # the part did not move: identity maps over its box
                x0, y0 = np.clip(np.floor(posed.min(axis=0)).astype(int), 0, [w - 1, h - 1])
                x1, y1 = np.clip(np.ceil(posed.max(axis=0)).astype(int), 0, [w - 1, h - 1])
                roi = (slice(y0, y1 + 1), slice(x0, x1 + 1))
                map_y, map_x = np.mgrid[roi].astype(np.float32)
            else:
                roi, map_x, map_y = found
            coverage = self._coverage(layer, posed, roi, map_x, map_y)
            body_x, body_y = map_x, map_y
            if source_map is not None:
                map_x, map_y = source_map(map_x, map_y)
            colour = cv2.remap(
                self.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            if overlay is not None and layer.part == _BODY:
                colour = _over(colour, overlay, body_x, body_y)
            alpha = cv2.remap(layer.alpha, map_x, map_y, cv2.INTER_LINEAR) * coverage
            a = alpha[..., None]
            out[roi] = out[roi] * (1.0 - a) + colour * a
        return (out + 0.5).astype(np.uint8)


def _over(colour: np.ndarray, overlay: Overlay, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """`colour` (float, a layer's samples) with `overlay` sampled through the same maps laid
    over it."""
    (y0, x0), paint, cover = overlay
    mx, my = map_x - np.float32(x0), map_y - np.float32(y0)
    paint = cv2.remap(paint.astype(np.float32), mx, my, cv2.INTER_LINEAR)
    cover = cv2.remap(cover[..., 0].astype(np.float32), mx, my, cv2.INTER_LINEAR)[..., None]
    return colour + cover * (paint - colour)


def _part_of(child: int) -> int:
    for k, (_, joints) in enumerate(PARTS):
        if child in joints:
            return k
    return _BODY
