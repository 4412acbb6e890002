"""Expression rig: reference landmarks + motion residual -> target landmarks, and back.

The rig works in a head-aligned "canonical" frame of the reference face (origin between the
eyes, axes from `head_rotation`, unit = inter-ocular distance), so the same coefficient means
the same facial action whatever the photo's framing or head pose. Each expression channel is
a displacement field on the 478 mesh points, built from the reference's own geometry (e.g. a
blink moves each upper-lid point onto the lower lid of *this* eye), so the rig is linear in
the coefficients and `fit` can invert it with bounded least squares.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear
from scipy.spatial.distance import cdist

from avatarvid.geometry import euler_angles, fit_similarity, rotation_matrix
from avatarvid.motion.schema import EXPRESSIONS, GAZE, HEAD_ROTATION, MOTION_LAYOUT
from avatarvid.perception import landmark_ids as ids
from avatarvid.perception.head_pose import eye_centres, head_rotation

# Head rotation pivots at the top of the neck: below and behind the eyes (canonical units).
PIVOT = np.array([0.0, 0.6, 1.2], dtype=np.float32)
# The jaw hinges in front of the ears, slightly below eye level and well behind the face.
JAW_HINGE = np.array([0.0, 0.3, 1.0], dtype=np.float32)
JAW_MAX_ANGLE = 0.32  # radians at jaw_open = 1

_EYE_CORNERS = (ids.RIGHT_EYE_OUTER, ids.RIGHT_EYE_INNER, ids.LEFT_EYE_OUTER, ids.LEFT_EYE_INNER)
_ROT = MOTION_LAYOUT.indices(HEAD_ROTATION)
_TX, _TY, _SCALE = (MOTION_LAYOUT.index(n) for n in ("head_tx", "head_ty", "head_scale"))
_SHAPE = MOTION_LAYOUT.indices(EXPRESSIONS + GAZE)
LID_CLOSING = 0.95  # fraction of the lid gap a blink of 1 closes
# Inner lid points, upper and lower paired, of the eye each blink channel closes.
_LIDS = (
    (
        _SHAPE.index(MOTION_LAYOUT.index("blink_l")),
        ids.LEFT_EYE_UPPER[1:-1],
        ids.LEFT_EYE_LOWER[1:-1],
    ),
    (
        _SHAPE.index(MOTION_LAYOUT.index("blink_r")),
        ids.RIGHT_EYE_UPPER[1:-1],
        ids.RIGHT_EYE_LOWER[1:-1],
    ),
)

# Channels read from their own region's points before the whole-mesh solve: fitted on all 956
# coordinates, the brows' and irises' small motions were traded against fields that real
# landmarks do not follow (brows and gaze transferred 0.2-0.5 of a real driver's amplitude).
_LOCAL_FITS = (
    (
        [_SHAPE.index(MOTION_LAYOUT.index(n)) for n in EXPRESSIONS if n.startswith("brow")],
        list(ids.LEFT_BROW + ids.RIGHT_BROW),
    ),
    (
        [_SHAPE.index(MOTION_LAYOUT.index(n)) for n in GAZE],
        list(ids.RIGHT_IRIS + ids.LEFT_IRIS),
    ),
)


def head_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin, rotation, inter-ocular distance) of a face, defining its canonical frame."""
    lm = np.asarray(landmarks, dtype=np.float64)
    origin = lm[list(_EYE_CORNERS)].mean(axis=0)
    right_eye, left_eye = eye_centres(lm)
    iod = float(np.linalg.norm(left_eye - right_eye))
    if iod < 1e-6:
        raise ValueError("degenerate landmarks: the eyes coincide")
    return origin, head_rotation(lm).astype(np.float64), iod


def _falloff(c: np.ndarray, moving: dict[int, np.ndarray], pinned: tuple[int, ...], sigma: float):
    """Displacement field: anchors move exactly; every other point follows its nearest anchor,
    fading with distance, so pinned anchors (zero motion) stop the field from leaking. Rigid
    points are always pinned: head pose is fitted on them, so expressions must not move them."""
    anchors = list(moving) + [p for p in pinned + ids.RIGID if p not in moving]
    disp = np.zeros((len(anchors), 3))
    disp[: len(moving)] = np.array(list(moving.values()))
    dist = cdist(c[:, :2], c[anchors, :2])
    nearest = dist.argmin(axis=1)
    weight = np.exp(-(dist[np.arange(len(c)), nearest] ** 2) / (2 * sigma**2))
    field = disp[nearest] * weight[:, None]
    field[anchors] = disp
    return field


def _pairs(upper: tuple[int, ...], lower: tuple[int, ...], c: np.ndarray, gain: float) -> dict:
    """Moves each point of `upper` by `gain` times its offset to the matching `lower` point."""
    return {u: gain * (c[lo] - c[u]) for u, lo in zip(upper, lower, strict=True)}


def _lips(c: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    upper = sorted(set(ids.UPPER_LIP_OUTER + ids.UPPER_LIP_INNER) - {61, 291, 78, 308})
    lower = sorted(set(ids.LOWER_LIP_OUTER + ids.LOWER_LIP_INNER) - {61, 291, 78, 308})
    centre = c[[ids.MOUTH_CORNER_LEFT, ids.MOUTH_CORNER_RIGHT]].mean(axis=0)
    return upper, lower, centre


def _jaw_field(c: np.ndarray) -> np.ndarray:
    """Linearised rotation of the lower face about the jaw hinge, weighted by how far below
    the mouth corners a point lies (lower lip fully, upper lip not at all)."""
    upper, lower, centre = _lips(c)
    weight = np.clip((c[:, 1] - centre[1]) / 0.3 + 0.35, 0.0, 1.0)
    weight[upper] = 0.0
    weight[lower] = 1.0
    weight[[61, 291, 78, 308]] = 0.5
    weight[ids.NUM_MESH :] = 0.0
    weight[list(ids.RIGID)] = 0.0
    arm = c - JAW_HINGE
    rot = np.stack([np.zeros(len(c)), -arm[:, 2], arm[:, 1]], axis=1) * JAW_MAX_ANGLE
    return rot * weight[:, None]


def _corner(c: np.ndarray, side: str, dx: float, dy: float) -> np.ndarray:
    """Moves one mouth corner outward by dx and by dy, with its lips and cheek following."""
    outer, inner, other = (291, 308, 61) if side == "l" else (61, 78, 291)
    sign = 1.0 if side == "l" else -1.0
    d = np.array([sign * dx, dy, 0.0])
    pinned = (other, ids.NOSE_TIP, ids.CHIN, ids.UPPER_LIP_TOP, ids.LOWER_LIP_BOTTOM)
    return _falloff(c, {outer: d, inner: d}, pinned, sigma=0.3)


def _blink(c: np.ndarray, upper: tuple, lower: tuple, iris: tuple, brow: tuple) -> np.ndarray:
    """Upper lid onto the lower lid; the iris squeezed down with it so nothing folds."""
    moving = _pairs(upper[1:-1], lower[1:-1], c, LID_CLOSING)
    lid_y = np.interp(
        c[list(iris), 0],
        c[list(lower), 0][np.argsort(c[list(lower), 0])],
        c[list(lower), 1][np.argsort(c[list(lower), 0])],
    )
    for i, y in zip(iris, lid_y, strict=True):
        moving[i] = np.array([0.0, 0.9 * (y - c[i, 1]), 0.0])
    pinned = tuple(lower) + (upper[0], upper[-1]) + tuple(brow)
    return _falloff(c, moving, pinned, sigma=0.12)


def lid_gap(c: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]) -> float:
    """Mean vertical gap between paired lid points (canonical units: head-aligned)."""
    return float(np.mean(c[list(lower), 1] - c[list(upper), 1]))


def _iris_sets(c: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(right-eye iris, left-eye iris), checked geometrically rather than trusted by index."""
    a, b = ids.RIGHT_IRIS, ids.LEFT_IRIS
    return (a, b) if c[a[0], 0] < c[b[0], 0] else (b, a)


def build_basis(c: np.ndarray) -> np.ndarray:
    """(len(EXPRESSIONS) + len(GAZE), 478, 3) displacement fields in canonical units."""
    upper, lower, centre = _lips(c)
    lips = upper + lower + [61, 291, 78, 308]
    pinned_mouth = (ids.NOSE_TIP, ids.CHIN, 234, 454)
    iris_r, iris_l = _iris_sets(c)
    fields: dict[str, np.ndarray] = {}
    fields["jaw_open"] = _jaw_field(c)
    close = _pairs(ids.UPPER_LIP_INNER[1:-1], ids.LOWER_LIP_INNER[1:-1], c, 0.5)
    close |= _pairs(ids.LOWER_LIP_INNER[1:-1], ids.UPPER_LIP_INNER[1:-1], c, 0.5)
    fields["lip_close"] = _falloff(c, close, pinned_mouth, sigma=0.1)
    press = _pairs(ids.UPPER_LIP_OUTER[1:-1], ids.UPPER_LIP_INNER[1:-1], c, 0.4)
    press |= _pairs(ids.LOWER_LIP_OUTER[1:-1], ids.LOWER_LIP_INNER[1:-1], c, 0.4)
    fields["lip_press"] = _falloff(c, press, pinned_mouth + tuple(ids.LIPS_INNER), sigma=0.1)
    inward = {i: np.array([-0.15 * (c[i, 0] - centre[0]), 0.0, -0.1]) for i in lips}
    funnel = dict(inward)
    for u in ids.UPPER_LIP_INNER[2:-2]:
        funnel[u] = funnel[u] + np.array([0.0, -0.04, 0.0])
    for lo in ids.LOWER_LIP_INNER[2:-2]:
        funnel[lo] = funnel[lo] + np.array([0.0, 0.07, 0.0])
    fields["lip_funnel"] = _falloff(c, funnel, pinned_mouth, sigma=0.15)
    pucker = {i: 1.6 * v + np.array([0.0, 0.0, -0.05]) for i, v in inward.items()}
    fields["lip_pucker"] = _falloff(c, pucker, pinned_mouth, sigma=0.15)
    fields["smile_l"] = _corner(c, "l", 0.12, -0.1)
    fields["smile_r"] = _corner(c, "r", 0.12, -0.1)
    fields["stretch_l"] = _corner(c, "l", 0.12, 0.05)
    fields["stretch_r"] = _corner(c, "r", 0.12, 0.05)
    up = {i: np.array([0.0, -0.07, 0.0]) for i in ids.UPPER_LIP_OUTER[2:-2]}
    fields["upper_lip_up"] = _falloff(c, up, pinned_mouth + tuple(ids.LOWER_LIP_OUTER), 0.1)
    down = {i: np.array([0.0, 0.08, 0.0]) for i in ids.LOWER_LIP_OUTER[2:-2]}
    fields["lower_lip_down"] = _falloff(c, down, pinned_mouth + tuple(ids.UPPER_LIP_OUTER), 0.1)
    fields["blink_l"] = _blink(c, ids.LEFT_EYE_UPPER, ids.LEFT_EYE_LOWER, iris_l, ids.LEFT_BROW)
    fields["blink_r"] = _blink(c, ids.RIGHT_EYE_UPPER, ids.RIGHT_EYE_LOWER, iris_r, ids.RIGHT_BROW)
    eyes = ids.LEFT_EYE_UPPER + ids.LEFT_EYE_LOWER + ids.RIGHT_EYE_UPPER + ids.RIGHT_EYE_LOWER
    brow_pins = tuple(eyes) + (ids.NOSE_TIP,)
    inner_up = {i: np.array([0.0, -0.12, 0.0]) for i in ids.LEFT_BROW_INNER + ids.RIGHT_BROW_INNER}
    fields["brow_inner_up"] = _falloff(c, inner_up, brow_pins, sigma=0.2)
    for side, outer in (("l", ids.LEFT_BROW_OUTER), ("r", ids.RIGHT_BROW_OUTER)):
        moving = {i: np.array([0.0, -0.12, 0.0]) for i in outer}
        fields[f"brow_outer_up_{side}"] = _falloff(c, moving, brow_pins, sigma=0.2)
    brow_down = {i: np.array([0.0, 0.08, 0.0]) for i in ids.LEFT_BROW + ids.RIGHT_BROW}
    for i in ids.LEFT_BROW_INNER + ids.RIGHT_BROW_INNER:
        brow_down[i] = brow_down[i] + np.array([0.03 * -np.sign(c[i, 0]), 0.0, 0.0])
    fields["brow_down"] = _falloff(c, brow_down, brow_pins, sigma=0.2)
    eye_half_width = 0.25 * (
        abs(c[ids.LEFT_EYE_OUTER, 0] - c[ids.LEFT_EYE_INNER, 0])
        + abs(c[ids.RIGHT_EYE_OUTER, 0] - c[ids.RIGHT_EYE_INNER, 0])
    )
    for name, axis, gain in (("gaze_x", 0, 0.45), ("gaze_y", 1, 0.25)):
        field = np.zeros_like(c)
        field[list(iris_r + iris_l), axis] = gain * eye_half_width
        fields[name] = field
    return np.stack([fields[n] for n in EXPRESSIONS + GAZE]).astype(np.float32)


class FaceRig:
    """Maps motion residuals to landmarks of one reference face, and landmarks back to residuals."""

    def __init__(self, reference_landmarks: np.ndarray):
        self.reference = np.asarray(reference_landmarks, dtype=np.float32)
        if self.reference.shape != (ids.NUM_LANDMARKS, 3):
            raise ValueError(
                f"expected ({ids.NUM_LANDMARKS}, 3) landmarks, got {self.reference.shape}"
            )
        self.origin, self.rotation, self.iod = head_frame(self.reference)
        self.canonical = self.to_canonical(self.reference)
        self.basis = build_basis(self.canonical)
        # `fit` solves its bounded least squares on the design's QR factor: the same minimiser
        # as on the (956, K) design itself, ~100x cheaper per frame.
        q, self._fit_r = np.linalg.qr(self.basis[:, :, :2].reshape(len(self.basis), -1).T)
        self._fit_qt = q.T
        self._open = [lid_gap(self.canonical, up, lo) for _, up, lo in _LIDS]
        self._local = [
            (channels, points, self.basis[channels][:, points, :2].reshape(len(channels), -1).T)
            for channels, points in _LOCAL_FITS
        ]

    def to_canonical(self, landmarks: np.ndarray) -> np.ndarray:
        return ((landmarks - self.origin) @ self.rotation) / self.iod

    def from_canonical(self, points: np.ndarray) -> np.ndarray:
        return points * self.iod @ self.rotation.T + self.origin

    def landmarks(self, residuals: np.ndarray, detail: np.ndarray | None = None) -> np.ndarray:
        """(D,) -> (478, 3) or (T, D) -> (T, 478, 3) target landmarks in image pixels.

        `detail` ((478, 3) or (T, 478, 3), canonical units) is added to the expression before
        the head pose: shape the channels do not span (`fit_with_remainder`)."""
        r = np.asarray(residuals, dtype=np.float64)
        single = r.ndim == 1
        r = np.atleast_2d(r)
        shaped = self.canonical + np.einsum("tk,kpc->tpc", r[:, _SHAPE], self.basis)
        if detail is not None:
            shaped = shaped + detail
        rot = rotation_matrix(r[:, _ROT[0]], r[:, _ROT[1]], r[:, _ROT[2]])
        posed = np.einsum("tij,tpj->tpi", rot, shaped - PIVOT) + PIVOT
        posed = posed * (1.0 + r[:, _SCALE])[:, None, None]
        posed[..., 0] += r[:, _TX, None]
        posed[..., 1] += r[:, _TY, None]
        out = self.from_canonical(posed).astype(np.float32)
        return out[0] if single else out

    def fit(self, landmarks: np.ndarray) -> np.ndarray:
        """Residual (D,) whose landmarks best match `landmarks` (same image frame as the reference).

        Head pose by a similarity (Umeyama) fit on rigid points, then expression and gaze by
        least squares within the layout's ranges, with each blink pinned to how far its lid gap
        closed (or opened: negative): a least-squares blink read 0.37 on a rendered closed eye
        whose gap mediapipe measured closed, because mediapipe's iris and lower lid do not
        follow the blink field. Brows and gaze are pinned likewise, each fitted on its own
        points only (brows, irises) with the blinks' share removed.
        """
        return self._fit_unposed(*self._head(landmarks))

    def fit_with_remainder(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`fit`'s residual, and the (478, 3) canonical offsets, x and y, of `landmarks` from
        what it reconstructs, head pose undone: the shape no channel spans (z left at 0)."""
        head, unposed = self._head(landmarks)
        residual = self._fit_unposed(head, unposed)
        shaped = self.canonical + np.einsum("k,kpc->pc", residual[_SHAPE], self.basis)
        remainder = np.zeros(shaped.shape, np.float32)
        remainder[:, :2] = (unposed - shaped)[:, :2]
        return residual, remainder

    def _fit_unposed(self, out: np.ndarray, unposed: np.ndarray) -> np.ndarray:
        """`fit` once the head pose is in `out` and undone in `unposed` (`_head`)."""
        delta = (unposed - self.canonical)[:, :2].reshape(-1)
        low, high = MOTION_LAYOUT.low[_SHAPE].copy(), MOTION_LAYOUT.high[_SHAPE].copy()
        pinned = np.zeros(len(_SHAPE))
        for (k, up, lo), gap in zip(_LIDS, self._open, strict=True):
            if gap > 0.02:  # an open eye in the reference: the lids' closing is measurable
                closed = (1.0 - lid_gap(unposed, up, lo) / gap) / LID_CLOSING
                pinned[k] = np.clip(closed, low[k], high[k])
                low[k], high[k] = pinned[k] - 1e-6, pinned[k] + 1e-6
        rest = delta - np.einsum("k,kp->p", pinned, self.basis[:, :, :2].reshape(len(_SHAPE), -1))
        rest = rest.reshape(-1, 2)
        for channels, points, design in self._local:
            bounds = (low[channels], high[channels])
            value = lsq_linear(design, rest[points].reshape(-1), bounds=bounds).x
            low[channels], high[channels] = value - 1e-6, value + 1e-6
        shape = lsq_linear(self._fit_r, self._fit_qt @ delta, bounds=(low, high), method="bvls").x
        out[_SHAPE] = np.clip(shape, MOTION_LAYOUT.low[_SHAPE], MOTION_LAYOUT.high[_SHAPE])
        return out.astype(np.float32)

    def _head(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(residual with only the head pose set, the landmarks in canonical units with that
        pose undone)."""
        q = self.to_canonical(np.asarray(landmarks, dtype=np.float64))
        rigid = list(ids.RIGID)
        head = fit_similarity(self.canonical[rigid] - PIVOT, q[rigid])
        rot, scale = head.rotation, head.scale
        shift = head.target_mean - scale * rot @ head.source_mean - scale * PIVOT
        out = np.zeros(MOTION_LAYOUT.dim)
        out[_ROT] = euler_angles(rot)
        out[_SCALE], out[_TX], out[_TY] = scale - 1.0, shift[0], shift[1]
        return out, ((q - shift) / scale - PIVOT) @ rot + PIVOT
