"""Synthetic people with a known pose, for measuring pose following against ground truth.

A figure is drawn from joint angles (shirt-coloured torso and upper arms, skin forearms and
hands, trousers, shoes) with a real face photo pasted as its head; mediapipe's pose model
finds it reliably (its detector keys on the face). The drawn joint positions are the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib
import numpy as np

from avatarvid.assets import examples_dir
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoWriter
from avatarvid.perception.pose import (
    L_ANKLE,
    L_ELBOW,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    L_WRIST,
    NOSE,
    NUM_POSE,
    R_ANKLE,
    R_ELBOW,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
    R_WRIST,
)

SKIN = (205, 160, 135)
# Joint angles (radians from straight down; the subject's left limbs are on the image right
# and positive angles lift them outwards); the rest pose has arms slightly out.
REST = {"l_arm": 0.3, "l_elbow": 0.2, "r_arm": 0.3, "r_elbow": 0.2, "l_leg": 0.05, "r_leg": 0.05}


@dataclass
class Figure:
    """A drawable person: `unit` is the torso length in pixels, `centre` the mid-hip."""

    face: np.ndarray  # square RGB crop of a face with some margin
    canvas: tuple[int, int] = (512, 384)  # (height, width)
    unit: float = 100.0
    centre: tuple[float, float] = (192.0, 282.0)
    shirt: tuple[int, int, int] = (40, 90, 170)
    trousers: tuple[int, int, int] = (50, 50, 60)
    background: tuple[int, int] = (150, 230)  # top and bottom grey levels
    angles: dict[str, float] = field(default_factory=lambda: dict(REST))

    def joints(self, angles: dict[str, float]) -> np.ndarray:
        """(33, 2) truth positions of the drawn joints (NaN for the ones not drawn)."""
        a = {**REST, **angles}
        u = self.unit
        out = np.full((NUM_POSE, 2), np.nan)
        hip = np.array(self.centre, dtype=np.float64)
        neck = hip + [0.0, -u]

        def limb(start, angle, length, side):
            return start + length * u * np.array([side * np.sin(angle), np.cos(angle)])

        out[L_SHOULDER], out[R_SHOULDER] = neck + [0.45 * u, 0], neck + [-0.45 * u, 0]
        out[L_HIP], out[R_HIP] = hip + [0.3 * u, 0], hip + [-0.3 * u, 0]
        for side, s, shoulder, elbow, wrist in (
            ("l", 1, L_SHOULDER, L_ELBOW, L_WRIST),
            ("r", -1, R_SHOULDER, R_ELBOW, R_WRIST),
        ):
            arm = a[f"{side}_arm"]
            out[elbow] = limb(out[shoulder], arm, 0.6, s)
            out[wrist] = limb(out[elbow], arm + a[f"{side}_elbow"], 0.55, s)
        for side, s, h, k, an in (
            ("l", 1, L_HIP, L_KNEE, L_ANKLE),
            ("r", -1, R_HIP, R_KNEE, R_ANKLE),
        ):
            out[k] = limb(out[h], a[f"{side}_leg"], 0.85, s)
            out[an] = limb(out[k], a[f"{side}_leg"], 0.85, s)
        out[NOSE] = neck + [0.0, -0.55 * u]
        return out

    def draw(
        self, angles: dict[str, float] | None = None, backdrop: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 image of the figure in pose `angles` (over `backdrop`, else the grey
        gradient), and its (33, 2) truth."""
        j = self.joints(angles or {})
        h, w = self.canvas
        u = self.unit
        img = np.empty((h, w, 3), np.uint8)
        if backdrop is None:
            img[:] = np.linspace(*self.background, h).astype(np.uint8)[:, None, None]
        else:
            img[:] = backdrop

        def pt(p):
            return tuple(int(round(v)) for v in p)

        def thick(x):
            return max(1, int(x * u))

        for a, b in ((L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE)):
            cv2.line(img, pt(j[a]), pt(j[b]), self.trousers, thick(0.28), cv2.LINE_AA)
        for ankle, s in ((L_ANKLE, 1), (R_ANKLE, -1)):
            centre = pt(j[ankle] + [0.1 * u * s, 0.05 * u])
            cv2.ellipse(img, centre, (thick(0.16), thick(0.07)), 0, 0, 360, (30, 30, 30), -1)
        corners = [
            j[R_SHOULDER] + [-0.05 * u, -0.05 * u],
            j[L_SHOULDER] + [0.05 * u, -0.05 * u],
            j[L_HIP] + [0.08 * u, 0.1 * u],
            j[R_HIP] + [-0.08 * u, 0.1 * u],
        ]
        cv2.fillPoly(img, [np.round(corners).astype(np.int32)], self.shirt, cv2.LINE_AA)
        neck = (j[L_SHOULDER] + j[R_SHOULDER]) / 2
        cv2.line(img, pt(neck), pt(neck + [0, -0.25 * u]), SKIN, thick(0.2), cv2.LINE_AA)
        for s, e, wr in ((L_SHOULDER, L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW, R_WRIST)):
            cv2.line(img, pt(j[s]), pt(j[e]), self.shirt, thick(0.2), cv2.LINE_AA)
            cv2.line(img, pt(j[e]), pt(j[wr]), SKIN, thick(0.14), cv2.LINE_AA)
            cv2.circle(img, pt(j[wr]), thick(0.1), SKIN, -1, cv2.LINE_AA)
        self._paste_head(img, neck + [0, -0.6 * u])
        return img, j

    def _paste_head(self, img: np.ndarray, centre: np.ndarray) -> None:
        side = int(0.75 * self.unit)
        face = cv2.resize(self.face, (side, side), interpolation=cv2.INTER_AREA)
        mask = np.zeros((side, side), np.float32)
        axes = (int(side * 0.36), int(side * 0.47))
        cv2.ellipse(mask, (side // 2, side // 2), axes, 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 2)[..., None]
        x0, y0 = int(centre[0] - side / 2), int(centre[1] - side / 2)
        roi = img[y0 : y0 + side, x0 : x0 + side]
        roi[:] = (roi * (1 - mask) + face * mask).astype(np.uint8)


def wave_angles(t: np.ndarray) -> list[dict[str, float]]:
    """A gesture sequence: both arms raised and lowered out of phase, elbows bending, one
    leg stepping out; starts exactly at the rest pose (t = 0)."""
    s = np.sin(2 * np.pi * t)
    c = 1 - np.cos(2 * np.pi * t)
    return [
        {
            "l_arm": REST["l_arm"] + 0.9 * ci,
            "l_elbow": REST["l_elbow"] + 0.6 * ci,
            "r_arm": REST["r_arm"] + 0.7 * (1 - np.cos(4 * np.pi * ti)),
            "r_elbow": REST["r_elbow"] + 0.4 * abs(si),
            "l_leg": REST["l_leg"] + 0.15 * ci,
        }
        for ti, si, ci in zip(t, s, c, strict=True)
    ]


def write_driver(
    path: str | Path, figure: Figure, num_frames: int, fps: float = 25.0, period_s: float = 2.0
) -> np.ndarray:
    """Writes the gesture sequence as an mp4 and returns its (T, 33, 2) truth joints."""
    angles = wave_angles(np.arange(num_frames) / fps / period_s)
    h, w = figure.canvas
    truth = []
    with VideoWriter(path, fps, w, h, crf=16) as writer:
        for a in angles:
            img, joints = figure.draw(a)
            writer.write(img)
            truth.append(joints)
    return np.stack(truth)


HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def gesture_figure() -> Figure:
    """The driver of the animate studies: the drawn person with the bundled astronaut's face
    as head (default canvas and shirt)."""
    astronaut = load_image(examples_dir() / "astronaut.png")
    return Figure(np.ascontiguousarray(astronaut[48:188, 155:295]))


def hopper_figure() -> Figure:
    """The drawn person in a red shirt with Grace Hopper's photo (public domain, shipped with
    matplotlib) as head, on a 480 x 480 canvas."""
    face = np.ascontiguousarray(load_image(HOPPER)[70:330, 140:400])
    return Figure(face, canvas=(480, 480), unit=85, centre=(250, 270), shirt=(170, 50, 40))


def hopper_reference() -> np.ndarray:
    """The full-body reference of the animate studies: `hopper_figure` in its rest pose;
    (480, 480, 3) RGB."""
    return hopper_figure().draw()[0]


@dataclass
class PropScene:
    """A reference photo whose truth is known layer by layer: the person over a room with
    props touching them, the room alone, where the props are, and the person's alpha."""

    image: np.ndarray  # (H, W, 3) uint8, the person over the room
    room: np.ndarray  # (H, W, 3) uint8, the same without the person
    props: np.ndarray  # (H, W) uint8, which prop each pixel of `room` shows (0: none)
    alpha: np.ndarray  # (H, W) float32 person coverage in `image`
    joints: np.ndarray  # (33, 2) the person's truth joints


def _room(h: int, w: int, floor: int) -> np.ndarray:
    """A textured wall (panels, fine noise) over a tiled floor: a background whose inpainting
    error is measurable, unlike a flat gradient."""
    rng = np.random.default_rng(7)
    room = np.empty((h, w, 3), np.float32)
    room[:floor] = np.array([196, 188, 170]) - np.linspace(0, 40, floor)[:, None, None]
    room[floor:] = np.array([120, 96, 80])
    for x in range(0, w, 60):  # wall panels and floor tiles
        cv2.line(room, (x, 0), (x, floor), (150, 140, 125), 2)
        cv2.line(room, (x, floor), (x + (x - w // 2) // 3, h), (90, 70, 60), 2)
    for y in range(floor + 20, h, 30):
        cv2.line(room, (0, y), (w, y), (90, 70, 60), 2)
    room += cv2.GaussianBlur(rng.normal(0, 6, (h, w, 1)).astype(np.float32), (0, 0), 1.5)[..., None]
    return np.clip(room + 0.5, 0, 255).astype(np.uint8)


# Draws a scene's props given the figure's rest joints and unit: their colours into `shapes`
# (RGB, black: none) and their numbers into `props`.
PlaceProps = Callable[[np.ndarray, float, np.ndarray, np.ndarray], None]


def _prop_scene(place: PlaceProps) -> PropScene:
    """`hopper_figure` in `_room` with the props `place` draws painted in behind her."""
    figure = hopper_figure()
    h, w = figure.canvas
    joints = figure.joints({})
    room = _room(h, w, floor=int(joints[L_ANKLE, 1] - 0.25 * figure.unit))
    props = np.zeros((h, w), np.uint8)
    shapes = np.zeros_like(room)
    place(joints, figure.unit, shapes, props)
    room = np.where(shapes.any(axis=2, keepdims=True), shapes, room)
    image, joints = figure.draw(backdrop=room)
    black = figure.draw(backdrop=np.zeros_like(room))[0].astype(np.float32)
    white = figure.draw(backdrop=np.full_like(room, 255))[0].astype(np.float32)
    alpha = np.clip(1 - (white - black).mean(axis=2) / 255, 0, 1).astype(np.float32)
    return PropScene(image, room, props, alpha, joints)


def prop_scene() -> PropScene:
    """`hopper_figure` in a room with a ball between her feet against her left shoe (prop 1; the
    gesture driver's left leg steps away from it), a box touching her
    right hand (2) and a pole behind her left arm (3): props that touch the person but are not
    her."""
    return _prop_scene(_place_scene_1)


def _place_scene_1(joints: np.ndarray, u: float, shapes: np.ndarray, props: np.ndarray) -> None:
    h = shapes.shape[0]
    ankle, wrist = joints[L_ANKLE], joints[R_WRIST]
    pole = (int(joints[L_SHOULDER, 0] + 0.55 * u), 30, int(joints[L_SHOULDER, 0] + 0.7 * u), h)
    cv2.rectangle(shapes, pole[:2], pole[2:], (95, 105, 120), -1)
    cv2.rectangle(props, pole[:2], pole[2:], 3, -1)
    box = (
        int(wrist[0] - 0.72 * u),
        int(wrist[1] - 0.3 * u),
        int(wrist[0] - 0.1 * u),
        int(wrist[1] + 0.5 * u),
    )
    cv2.rectangle(shapes, box[:2], box[2:], (150, 105, 45), -1)
    cv2.rectangle(shapes, box[:2], box[2:], (90, 60, 25), 3)
    cv2.rectangle(props, box[:2], box[2:], 2, -1)
    ball = (int(ankle[0] - 0.2 * u), int(ankle[1] - 0.05 * u))
    cv2.circle(shapes, ball, int(0.15 * u), (230, 120, 30), -1, cv2.LINE_AA)
    cv2.ellipse(shapes, ball, (int(0.15 * u), int(0.06 * u)), 20, 0, 360, (250, 240, 230), 2)
    cv2.circle(props, ball, int(0.15 * u), 1, -1)


def prop_scene_2() -> PropScene:
    """A second prop scene, other props at other places: `hopper_figure` with a green ball
    (a dark seam across it) against the outside of her right shoe (prop 1; mediapipe puts
    her right toe inside it), a pale blue bin touching her left hand from outside (2) and a
    low purple crate against the outside of her left shoe (3)."""
    return _prop_scene(_place_scene_2)


def _place_scene_2(joints: np.ndarray, u: float, shapes: np.ndarray, props: np.ndarray) -> None:
    right, left, wrist = joints[R_ANKLE], joints[L_ANKLE], joints[L_WRIST]
    ball = (int(right[0] - 0.28 * u), int(right[1] - 0.02 * u))
    cv2.circle(shapes, ball, int(0.17 * u), (60, 170, 70), -1, cv2.LINE_AA)
    cv2.line(shapes, (ball[0] - 12, ball[1]), (ball[0] + 12, ball[1]), (20, 60, 20), 2)
    cv2.circle(props, ball, int(0.17 * u), 1, -1)
    bin_ = (
        int(wrist[0] + 0.08 * u),
        int(wrist[1] - 0.1 * u),
        int(wrist[0] + 0.6 * u),
        int(wrist[1] + 0.7 * u),
    )
    cv2.rectangle(shapes, bin_[:2], bin_[2:], (150, 180, 220), -1)
    cv2.rectangle(shapes, bin_[:2], bin_[2:], (70, 90, 130), 3)
    cv2.rectangle(props, bin_[:2], bin_[2:], 2, -1)
    crate = (
        int(left[0] + 0.12 * u),
        int(left[1] - 0.3 * u),
        int(left[0] + 0.55 * u),
        int(left[1] + 0.08 * u),
    )
    cv2.rectangle(shapes, crate[:2], crate[2:], (120, 60, 140), -1)
    cv2.rectangle(props, crate[:2], crate[2:], 3, -1)
