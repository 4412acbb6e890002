"""The warp renderer on a real photo: mediapipe landmarks of scikit-image's astronaut, targets
built by displacing named landmark groups, and mediapipe again to read back what was drawn."""

from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np
import pytest
from skimage import data

from avatarvid.config.load import load_config
from avatarvid.perception import landmark_ids as ids
from avatarvid.perception.pose import segment_person
from avatarvid.pipelines.vlog import perceive_reference
from avatarvid.warp.face import FaceWarper

LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def detect():
    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True
    )

    def run(rgb: np.ndarray) -> np.ndarray:
        found = mesh.process(rgb).multi_face_landmarks
        assert found, "mediapipe found no face"
        h, w = rgb.shape[:2]
        return np.array([(p.x * w, p.y * h, p.z * w) for p in found[0].landmark], np.float32)

    yield run
    mesh.close()


@pytest.fixture(scope="module")
def photo(detect) -> tuple[np.ndarray, np.ndarray]:
    image = data.astronaut()
    return image, detect(image)


@pytest.fixture(scope="module")
def warper(photo) -> FaceWarper:
    return FaceWarper(*photo)


def head_moved(lm: np.ndarray, degrees: float, shift: tuple[float, float]) -> np.ndarray:
    """Rotation about the face centre, then a shift: a rigid in-plane head motion."""
    centre = lm[list(ids.FACE_OVAL), :2].mean(axis=0)
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    out = lm.copy()
    out[:, :2] = (lm[:, :2] - centre) @ rot.T + centre + shift
    return out


def hair_error(
    warper: FaceWarper, lm: np.ndarray, person: np.ndarray, motion: tuple[float, tuple]
) -> float:
    """Mean |warp - the photo moved rigidly by `motion` (degrees, shift)| over the hair above
    the face, where the head takes it (5 px in from its edge, past resampling's blur)."""
    degrees, shift = motion
    centre = lm[list(ids.FACE_OVAL), :2].mean(axis=0)
    rigid = cv2.getRotationMatrix2D(tuple(map(float, centre)), -degrees, 1.0)
    rigid[:, 2] += shift
    image = warper.image
    h, w = image.shape[:2]
    moved = cv2.warpAffine(image, rigid, (w, h), borderMode=cv2.BORDER_REPLICATE)
    above = np.arange(h)[:, None] < lm[list(ids.FACE_OVAL), 1].min()
    hair = ((person > 0.5) & above).astype(np.uint8)
    hair = cv2.warpAffine(hair, rigid, (w, h), flags=cv2.INTER_NEAREST)
    hair = cv2.erode(hair, np.ones((5, 5), np.uint8)) > 0
    out = warper.render(head_moved(lm, degrees, shift))
    return float(np.abs(out.astype(np.float32) - moved)[hair].mean())


def jaw_opened(lm: np.ndarray, pixels: float) -> np.ndarray:
    """Lower lip, chin and lower face down by up to `pixels`, fading in over a short distance
    below the upper lip's inner edge (so the mouth opens lens-shaped) and out to the sides."""
    ux, uy = lm[list(ids.UPPER_LIP_INNER), 0], lm[list(ids.UPPER_LIP_INNER), 1]
    order = np.argsort(ux)
    below = lm[:, 1] - np.interp(lm[:, 0], ux[order], uy[order])
    t = np.clip(below / (0.25 * (lm[ids.CHIN, 1] - lm[ids.UPPER_LIP_BOTTOM, 1])), 0, 1)
    centre_x = lm[[ids.MOUTH_CORNER_LEFT, ids.MOUTH_CORNER_RIGHT], 0].mean()
    half_width = np.ptp(lm[list(ids.FACE_OVAL), 0]) / 2
    weight = t * t * (3 - 2 * t) * np.clip(1.4 - np.abs(lm[:, 0] - centre_x) / half_width, 0, 1)
    weight[ids.NUM_MESH :] = 0.0
    out = lm.copy()
    out[:, 1] += pixels * weight
    return out


def blinked(lm: np.ndarray) -> np.ndarray:
    """Upper lids moved onto the lower lids; everything else (irises too) left as is."""
    out = lm.copy()
    for upper, lower in (
        (ids.RIGHT_EYE_UPPER, ids.RIGHT_EYE_LOWER),
        (ids.LEFT_EYE_UPPER, ids.LEFT_EYE_LOWER),
    ):
        out[list(upper[1:-1])] = lm[list(lower[1:-1])]
    return out


def eye_aspect_ratio(lm: np.ndarray) -> float:
    opening = sum(
        np.linalg.norm(lm[a, :2] - lm[b, :2])
        for a, b in (
            (ids.RIGHT_EYE_TOP, ids.RIGHT_EYE_BOTTOM),
            (ids.LEFT_EYE_TOP, ids.LEFT_EYE_BOTTOM),
        )
    )
    width = sum(
        np.linalg.norm(lm[a, :2] - lm[b, :2])
        for a, b in (
            (ids.RIGHT_EYE_OUTER, ids.RIGHT_EYE_INNER),
            (ids.LEFT_EYE_OUTER, ids.LEFT_EYE_INNER),
        )
    )
    return opening / width


def lip_gap(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[ids.LOWER_LIP_TOP, :2] - lm[ids.UPPER_LIP_BOTTOM, :2]))


def polygon_luma(image: np.ndarray, polygon: np.ndarray) -> float:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return float((image[mask > 0] @ LUMA).mean())


def test_reference_landmarks_reproduce_the_photo(photo, warper):
    image, lm = photo
    out = warper.render(lm)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(np.float32) - image).mean() < 1.0


def test_head_motion_moves_the_face_and_keeps_the_background(photo, warper, detect):
    image, lm = photo
    target = head_moved(lm, 6.0, (8.0, -5.0))
    out = warper.render(target)
    found = detect(out)
    error = np.linalg.norm(found[:, :2] - target[:, :2], axis=1)
    assert np.median(error) < 2.5, np.median(error)
    assert np.median(np.linalg.norm(found[:, :2] - lm[:, :2], axis=1)) > 6.0
    # Far from the head (the suit below, the flag and the shuttle beside) nothing moves.
    diff = np.abs(out.astype(np.float32) - image).mean(axis=2)
    assert diff[330:].mean() < 0.5
    assert diff[:, :80].mean() < 0.5 and diff[:, 400:].mean() < 0.5


@pytest.mark.parametrize("motion", [(-8.0, (-10.0, -14.0)), (0.0, (0.0, -24.0))])
def test_hair_moves_with_the_head_given_the_person_mask(photo, motion):
    """The astronaut's hair reaches past the fixed head ring: without the mask its top stays
    behind, stretched (a torn hairline), even when the head rises towards the frame's top."""
    image, lm = photo
    person = segment_person(image)
    assert hair_error(FaceWarper(image, lm, person), lm, person, motion) < 0.5
    assert hair_error(FaceWarper(image, lm), lm, person, motion) > 3.0


def test_a_mask_that_never_ends_leaves_the_rings_alone(photo):
    """What goes on far past where hair could reach (a second person above, the mirror image
    of a padded frame) is not taken for hair: the rings stay where they are without a mask."""
    image, lm = photo
    tall = np.pad(image, ((400, 0), (0, 0), (0, 0)), mode="reflect")
    lm = lm + np.array([0.0, 400.0, 0.0], np.float32)
    everywhere = np.ones(tall.shape[:2], np.float32)
    assert np.array_equal(
        FaceWarper(tall, lm, everywhere)._extras.points, FaceWarper(tall, lm)._extras.points
    )


def test_vlog_frames_the_photo_with_its_person_mask(astronaut_path):
    ref = perceive_reference(astronaut_path, load_config("fast", size=128), None)
    assert ref.person is not None and ref.person.shape == ref.framed.shape[:2]
    nose = np.round(ref.landmarks[ids.NOSE_TIP, :2]).astype(int)
    assert ref.person[nose[1], nose[0]] > 0.5 and ref.person[2, 2] < 0.5


def test_render_map_is_the_warp(photo, warper):
    image, lm = photo
    target = head_moved(lm, -4.0, (-6.0, 3.0))
    map_x, map_y, _ = warper.render_map(target)
    assert map_x.shape == image.shape[:2] and map_x.dtype == np.float32
    remapped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(remapped, warper.render(target))


def test_opening_the_jaw_shows_a_dark_mouth(photo, warper, detect):
    image, lm = photo
    target = jaw_opened(lm, 15.0)
    out = warper.render(target)
    inner = target[list(ids.LIPS_INNER), :2]
    assert polygon_luma(out, inner) < polygon_luma(image, inner) - 40
    assert polygon_luma(out, inner) < 110
    found = detect(out)
    assert lip_gap(found) > lip_gap(lm) + 5.0  # mediapipe under-reads wide jaws a little


def test_blink_closes_the_eyes(photo, warper, detect):
    image, lm = photo
    found = detect(warper.render(blinked(lm)))
    assert eye_aspect_ratio(found) < 0.4 * eye_aspect_ratio(lm)


def test_folded_targets_render_without_garbage(photo, warper):
    image, lm = photo
    folded = lm.copy()
    folded[ids.LOWER_LIP_TOP, :2] = lm[ids.UPPER_LIP_TOP, :2] - [0.0, 8.0]
    folded[ids.UPPER_LIP_BOTTOM, 1] += 12.0
    crumpled = lm + np.random.default_rng(0).normal(0.0, 6.0, lm.shape).astype(np.float32)
    for target in (folded, crumpled, blinked(blinked(lm)), jaw_opened(lm, 60.0)):
        map_x, map_y, _ = warper.render_map(target)
        assert np.isfinite(map_x).all() and np.isfinite(map_y).all()
        assert map_x.min() > -2 and map_x.max() < image.shape[1] + 1
        assert map_y.min() > -2 and map_y.max() < image.shape[0] + 1
        out = warper.render(target)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.abs(out[330:].astype(np.float32) - image[330:]).mean() < 0.5


def test_rejects_bad_input(photo, warper):
    image, lm = photo
    bad = lm.copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError):
        warper.render(bad)
    with pytest.raises(ValueError):
        warper.render(lm[:468])
    with pytest.raises(ValueError):
        FaceWarper(image.astype(np.float32), lm)
