"""Does `animate`'s body warp keep the scene intact? Measured on the synthetic prop scene
(`evaluate/synthetic.prop_scene`: the drawn Grace Hopper figure in a room, a ball against her
shoe, a box touching her hand, a pole behind her arm), where every layer's truth is known;
`--scene 2` is the second validation scene (`prop_scene_2`: a green ball against the other
shoe, mediapipe's toe point inside it, a bin at the other hand, a crate at the other shoe;
prop_change reports them as ball, bin, crate).

The driver is the synthetic gesture clip (an arm lift, a leg stepping out towards the ball),
tracked and retargeted as `animate` does; the body warp renders each frame (no face warp: it
does not touch the background), and renders it again with the true person alpha as the photo
over a black plate to know where the posed person covers the frame. Numbers (grey levels
0-255 or fractions):
  background_change   the project's metric (pose_follow.background_change: outside the
                      selfie masks of the reference and the frame)
  edge_change         mean |change| in a band 6 px wide around the posed person, outside
                      both people: halos, smears and trails that travel with the person
  edge_torn           fraction of that band changed by more than 40 grey levels
  prop_change         mean |change| over each prop's pixels that no person covers
                      (neither the photo's, truth alpha, nor the posed one), pooled over
                      all frames
  prop_carried        fraction of those prop pixels the warper counts as person at rest
                      (they would move with a limb)
  plate_error         mean |plate - room| where the photo's person was (truth alpha > 0.02)
  halo / missing      the warper's person alpha at rest against the truth, over a band 6 px
                      either side of the true outline: mean alpha outside it (old background
                      carried along), mean missing alpha inside
  limbs_reordered     fraction of frames on which each limb (left/right arm, left/right leg)
                      is drawn out of the default order (arms in front, legs behind) by the
                      driver's depth (motion/depth_order.py); this driver's limbs stay at
                      the side, so it should be near 0

usage: avatarvid study eval_animate_scene [--scene 1|2] [--frames 100] [--size 256]
       [--out DIR] [--strip PNG]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from avatarvid.evaluate.pose_follow import background_change
from avatarvid.evaluate.synthetic import gesture_figure, prop_scene, prop_scene_2, write_driver
from avatarvid.motion.depth_order import limbs_in_front
from avatarvid.motion.driving import FaceMotionFitter, track_driver
from avatarvid.pipelines.animate import BodyRenderer, perceive_reference

_BAND = 6
_TORN = 40  # grey levels: a pixel of the band changed this much shows something else
SCENES = {1: prop_scene, 2: prop_scene_2}
PROPS = {1: {1: "ball", 2: "box", 3: "pole"}, 2: {1: "ball", 2: "bin", 3: "crate"}}
_STRIP = (0, 10, 20, 25, 32)  # frames of the README strip: rest, the leg stepping out, ...


def _resized(scene, size: int):
    h, w = scene.image.shape[:2]
    dsize = (round(w * size / max(h, w)) // 2 * 2, round(h * size / max(h, w)) // 2 * 2)

    def shrink(a):
        return cv2.resize(a, dsize, interpolation=cv2.INTER_AREA)

    props = cv2.resize(scene.props, dsize, interpolation=cv2.INTER_NEAREST)
    return shrink(scene.image), shrink(scene.room), props, shrink(scene.alpha)


def _strip(frames: list[np.ndarray], scene: np.ndarray, height: int = 200) -> np.ndarray:
    """The frames side by side, each cut to the columns of the person and the props near
    them (`scene` (H, W) bool, rows of the top third excluded: the pole) and `height` high."""
    h = scene.shape[0]
    xs = np.flatnonzero(scene[h // 3 :].any(axis=0))
    cut = [f[:, max(0, xs[0] - 8) : xs[-1] + 9] for f in frames]
    w = round(cut[0].shape[1] * height / h)
    return np.hstack([cv2.resize(c, (w, height), interpolation=cv2.INTER_AREA) for c in cut])


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="avatarvid study eval_animate_scene")
    ap.add_argument("--scene", type=int, default=1, choices=sorted(SCENES))
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("out") / "eval_animate_scene")
    ap.add_argument("--strip", type=Path, help="also write the README's frame strip here")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scene = SCENES[args.scene]()
    names = PROPS[args.scene]
    image, room, props, alpha = _resized(scene, args.size)
    ref_path = args.out / "scene.png"
    cv2.imwrite(str(ref_path), scene.image[..., ::-1])
    drive = args.out / "driver.mp4"
    write_driver(drive, gesture_figure(), args.frames)

    ref = perceive_reference(ref_path, args.size)
    assert ref.image.shape == image.shape, (ref.image.shape, image.shape)
    track = track_driver(drive, FaceMotionFitter(None, "relative"), need_pose=True)
    renderer = BodyRenderer(ref, track, "relative")
    body = renderer.body
    # The same warp drawing a white person over a black plate (where the warper's person goes),
    # and drawing the true person's alpha (where the real person goes, props excluded).
    mask, posed_truth = copy.copy(body), copy.copy(body)
    mask.image = np.full_like(body.image, 255)
    posed_truth.image = np.repeat((alpha[..., None] * 255).astype(np.uint8), 3, axis=2)
    mask.plate = posed_truth.plate = np.zeros_like(body.plate)

    at_rest = _grey(mask.render(body.rest)) / 255
    free_props = (props > 0) & (alpha < 0.02)
    hole = alpha > 0.02
    band = cv2.dilate((alpha > 0.5).astype(np.uint8), np.ones((2 * _BAND + 1,) * 2, np.uint8))
    inner = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((2 * _BAND + 1,) * 2, np.uint8))
    outside, inside = (band > 0) & (alpha < 0.02), (alpha > 0.98) & (inner == 0)

    ref_grey = _grey(image)
    ring = np.ones((2 * _BAND + 1,) * 2, np.uint8)
    ref_covered = cv2.dilate((alpha > 0.02).astype(np.uint8), np.ones((3, 3), np.uint8))
    edge_sum, edge_count, edge_torn = 0.0, 0, 0
    frames, strip = [], []
    change_sum, change_count = np.zeros(len(names)), np.zeros(len(names))
    start = time.perf_counter()
    for k in range(track.num_frames):
        joints = renderer.ease(renderer.retarget(renderer.joints[k]), 1.0)
        frame = body.render(joints, front=renderer.front[k])
        person = (_grey(posed_truth.render(joints, front=renderer.front[k])) > 12).astype(np.uint8)
        covered = cv2.dilate(person, np.ones((3, 3), np.uint8))
        change = np.abs(_grey(frame) - ref_grey)
        near = (cv2.dilate(person, ring) > 0) & (covered == 0) & (ref_covered == 0)
        edge_sum += change[near].sum()
        edge_count += int(near.sum())
        edge_torn += int((change[near] > _TORN).sum())
        for i, label in enumerate(names):
            seen = free_props & (props == label) & (covered == 0)
            change_sum[i] += change[seen].sum()
            change_count[i] += seen.sum()
        frames.append(frame)
        if k in _STRIP:
            strip.append(frame)
    seconds = time.perf_counter() - start
    result = {
        "set": f"synthetic prop scene {args.scene} (validation)",
        "frames": len(frames),
        "size": args.size,
        "warp_fps": round(len(frames) / seconds, 1),
        "background_change": round(background_change(frames, image), 2),
        "edge_change": round(edge_sum / max(edge_count, 1), 2),
        "edge_torn": round(edge_torn / max(edge_count, 1), 4),
        "prop_change": {
            name: round(float(change_sum[i] / max(change_count[i], 1)), 2)
            for i, name in enumerate(names.values())
        },
        "prop_carried": round(float((at_rest[free_props] > 0.5).mean()), 4),
        "plate_error": round(float(np.abs(body.plate.astype(np.float32) - room)[hole].mean()), 2),
        "halo": round(float(at_rest[outside].mean()), 4),
        "missing": round(float(1 - at_rest[inside].mean()), 4),
        "limbs_reordered": np.round(
            (renderer.front != limbs_in_front(None, 1)).mean(axis=0), 3
        ).tolist(),
    }
    print(json.dumps(result))
    if args.strip is not None and strip:
        cv2.imwrite(str(args.strip), _strip(strip, (alpha > 0.02) | (props > 0))[..., ::-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
