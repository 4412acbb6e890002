"""animate: perception of the driver, retargeting, body warp and the CLI, on synthetic people
with known poses (a drawn body with a real face photo as its head) and real mediapipe."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatarvid.cli import main
from avatarvid.evaluate.pose_follow import pck, video_poses
from avatarvid.evaluate.synthetic import Figure, write_driver
from avatarvid.media.image import load_image
from avatarvid.media.video import VideoReader, VideoWriter, probe
from avatarvid.motion.driving import FaceMotionFitter, track_driver
from avatarvid.motion.retarget import BONES, Retargeter, with_virtual_joints
from avatarvid.motion.schema import MOTION_LAYOUT, Motion
from avatarvid.perception.landmark_ids import LIPS_INNER
from avatarvid.perception.pose import L_WRIST, R_WRIST
from avatarvid.perception.smoothing import fill_gaps, one_euro, one_euro_both_ways
from avatarvid.pipelines.animate import BodyRenderer, perceive_reference
from avatarvid.warp.body import BodyWarper

GRACE_HOPPER = (
    __import__("matplotlib").get_data_path() + "/sample_data/grace_hopper.jpg"
)  # public domain portrait shipped with matplotlib


@pytest.fixture(scope="session")
def faces(astronaut_path):
    astronaut, hopper = load_image(astronaut_path), load_image(GRACE_HOPPER)
    return (
        np.ascontiguousarray(astronaut[48:188, 155:295]),
        np.ascontiguousarray(hopper[70:330, 140:400]),
    )


@pytest.fixture(scope="session")
def animate_data(tmp_path_factory, faces):
    """A 30-frame gesture driver (truth known) and a differently framed reference person."""
    root = tmp_path_factory.mktemp("animate")
    driver = Figure(faces[0], canvas=(384, 288), unit=75, centre=(144, 212))
    truth = write_driver(root / "driver.mp4", driver, 30)
    ref = Figure(faces[1], canvas=(320, 320), unit=57, centre=(170, 180), shirt=(170, 50, 40))
    image, ref_truth = ref.draw()

    cv2.imwrite(str(root / "ref.png"), image[..., ::-1])
    return root, truth, ref_truth


def test_smoothing_fills_gaps_and_follows_steps():
    track = np.array([0.0, np.nan, 2.0, 3.0, np.nan])
    filled = fill_gaps(track, np.isfinite(track))
    np.testing.assert_allclose(filled, [0, 1, 2, 3, 3])
    assert np.isnan(fill_gaps(np.ones((3, 2)), np.zeros((3, 2), bool))).all()
    noisy = np.r_[np.zeros(50), np.ones(50)] + np.random.default_rng(0).normal(0, 0.02, 100)
    smooth = one_euro(noisy[:, None], 25.0, min_cutoff=1.0, beta=5.0)[:, 0]
    assert np.std(np.diff(smooth[10:45])) < 0.5 * np.std(np.diff(noisy[10:45]))
    assert smooth[-1] == pytest.approx(1.0, abs=0.05)  # catches up after the step


def _best_lag(late: np.ndarray, early: np.ndarray) -> int:
    """The shift (0-3 frames) by which `late` (T, ...) trails `early` most closely."""
    errors = [np.nanmean(np.abs(late[s:] - early[: len(early) - s])) for s in range(4)]
    return int(np.argmin(errors))


def test_smoothing_both_ways_does_not_lag_fast_motion():
    t = np.arange(100) / 25.0
    # a wrist swinging once a second by a tenth of the frame height (the driving pose's units
    # and settings), and a still one; both with detector jitter
    swing = 0.1 * np.sin(2 * np.pi * t)[:, None]
    jitter = np.random.default_rng(0).normal(0, 0.002, (100, 2))
    tracks = np.concatenate([swing, np.zeros_like(swing)], axis=1)
    settings = {"min_cutoff": 2.5, "beta": 15.0}
    forwards = one_euro(tracks + jitter, 25.0, **settings)
    both = one_euro_both_ways(tracks + jitter, 25.0, **settings)
    assert _best_lag(both[:, :1], swing) == 0
    error = np.abs(both - tracks).mean(axis=0)
    assert error[0] < 0.5 * np.abs(forwards - tracks)[:, 0].mean()  # the forward pass lags
    assert np.std(both[10:, 1]) < 0.5 * np.std(jitter[10:, 1])  # still parts still smoothed


def test_driver_track_is_not_a_frame_late(animate_data):
    """The smoothed driving pose keeps time with mediapipe's frame-by-frame read of the driver
    (filtered forwards only, its wrists trailed it by a frame: issue #19)."""
    drive = animate_data[0] / "driver.mp4"
    track = track_driver(drive, FaceMotionFitter(None, "relative"), need_pose=True)
    wrists = [L_WRIST, R_WRIST]
    assert _best_lag(track.pose[:, wrists], video_poses(drive)[:, wrists, :2]) == 0


def test_driver_stream_matches_decord_frames(animate_data):
    """The driver's one-pass PyAV stream (flat memory) decodes the same frames as decord, up
    to the rounding decord truncates (stream brighter by under a grey level) and its chroma
    interpolated rather than repeated (which moves only pixels at colour edges)."""
    reader = VideoReader(animate_data[0] / "driver.mp4")
    streamed = list(reader.stream())
    assert len(streamed) == reader.num_frames == 30
    for a, b in zip(reader.frames(), streamed, strict=True):
        diff = b.astype(np.int16) - a
        assert np.percentile(np.abs(diff), 95) <= 1
        assert 0.0 <= diff.mean() < 1.0


def test_retargeting_keeps_reference_bone_lengths(faces):
    """A driver twice as tall moves the reference's limbs without stretching them."""
    small, tall = Figure(faces[0], unit=60), Figure(faces[0], canvas=(1024, 768), unit=120)
    ref = with_virtual_joints(small.joints({}))
    anchor = with_virtual_joints(tall.joints({}))
    pose = {"l_arm": 1.5, "l_elbow": 0.9, "r_arm": 2.0, "l_leg": 0.4}
    for mode in ("relative", "absolute"):
        out = Retargeter(ref, anchor, mode)(with_virtual_joints(tall.joints(pose)))
        expected = with_virtual_joints(small.joints(pose))
        for p, c in BONES:
            if np.isfinite(ref[[p, c]]).all():
                ratio = np.linalg.norm(out[c] - out[p]) / np.linalg.norm(ref[c] - ref[p])
                assert ratio == pytest.approx(1.0, abs=1e-6), (mode, p, c)
        known = np.isfinite(expected).all(axis=1)
        np.testing.assert_allclose(out[known], expected[known], atol=1e-6)


def _background(fig: Figure) -> np.ndarray:
    """The figure's backdrop alone (the vertical grey gradient it is drawn on)."""
    h, w = fig.canvas
    column = np.linspace(*fig.background, h).astype(np.uint8)
    return np.broadcast_to(column[:, None, None], (h, w, 3)).astype(int)


def test_body_warp_moves_limb_and_fills_background(faces):
    fig = Figure(faces[0], canvas=(256, 192), unit=50, centre=(96, 141))
    image, joints = fig.draw()
    raised, raised_joints = fig.draw({"l_arm": 2.4, "l_elbow": 0.2})
    background = _background(fig)
    person = (np.abs(image.astype(int) - background).sum(axis=2) > 12).astype(np.float32)
    warper = BodyWarper(image, person, with_virtual_joints(joints))
    out = warper.render(with_virtual_joints(raised_joints))
    hand, old_hand = raised_joints[15].round().astype(int), joints[15].round().astype(int)
    # the hand is drawn where the raised pose puts it, and the backdrop shows where it was
    assert np.abs(out[hand[1], hand[0]].astype(int) - raised[hand[1], hand[0]]).max() < 40
    assert (
        np.abs(
            out[old_hand[1], old_hand[0]].astype(int) - background[old_hand[1], old_hand[0]]
        ).max()
        < 25
    )
    # far from the person nothing changes
    assert np.abs(out[:20].astype(int) - image[:20]).max() <= 1


def test_animate_body_follows_driver(animate_data, tmp_path):
    root, truth, _ = animate_data
    out, motion = tmp_path / "out.mp4", tmp_path / "m.npz"
    code = main(["animate", "--image", str(root / "ref.png"), "--drive", str(root / "driver.mp4"),
                 "-o", str(out), "--size", "320", "--motion-out", str(motion), "-q"])  # fmt: skip
    assert code == 0
    info = probe(out)
    assert (info.width, info.height, info.num_frames) == (320, 320, 30)
    assert info.fps == pytest.approx(25.0)
    assert Motion.load(motion).num_frames == 30
    followed = pck(video_poses(out), video_poses(root / "driver.mp4"), threshold=0.2)
    assert followed > 0.75
    frames = list(VideoReader(out).frames())
    ref = load_image(root / "ref.png")
    # the top rows are background far from the person: they barely change
    assert np.mean([np.abs(f[:30].astype(int) - ref[:30]).mean() for f in frames]) < 3.0


def test_animate_diffusion_renderer_and_sr(animate_data, tmp_path):
    """--renderer diffusion refines the face box of the warped frames and --sr bicubic renders
    at half size: output at --size, driver still followed. A tiny untrained renderer: this
    tests the plumbing, not the checkpoint's quality."""
    import torch

    from avatarvid.models.renderer_unet import RendererUNet
    from avatarvid.sampling.schedulers import save_scheduler
    from avatarvid.train.renderer import noise_scheduler

    root, _, _ = animate_data
    torch.manual_seed(0)
    tiny = RendererUNet(block_channels=(8, 16), attention_levels=(False, True), sample_size=16)
    tiny.save_pretrained(tmp_path / "renderer")
    save_scheduler(noise_scheduler(), tmp_path / "renderer")
    preset = tmp_path / "p.yaml"
    preset.write_text(
        f"diffusion:\n  checkpoint: {tmp_path / 'renderer'}\n  steps: 2\n  strength: 0.7\n"
    )
    out = tmp_path / "d.mp4"
    code = main(["animate", "--image", str(root / "ref.png"), "--drive", str(root / "driver.mp4"),
                 "-o", str(out), "--size", "320", "--renderer", "diffusion", "--sr", "bicubic",
                 "--preset", str(preset), "-q"])  # fmt: skip
    assert code == 0
    info = probe(out)
    assert (info.width, info.height, info.num_frames) == (320, 320, 30)
    assert pck(video_poses(out), video_poses(root / "driver.mp4"), threshold=0.2) > 0.75


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_dir", "output directory"),
        ("bad_video", "cannot read video"),
        ("empty_video", "no person"),
        ("no_person_ref", "no person found in the reference"),
        ("head_only_body", "--mode face"),
        ("diffusion_no_checkpoint", "no diffusion renderer checkpoint"),
    ],
)
def test_animate_bad_input(case, message, animate_data, tmp_path, capsys):
    root, _, _ = animate_data
    image, drive, out = root / "ref.png", root / "driver.mp4", tmp_path / "o.mp4"
    extra: list[str] = []
    if case == "missing_dir":
        out = tmp_path / "nope" / "o.mp4"
    elif case == "bad_video":
        drive = tmp_path / "bad.mp4"
        drive.write_bytes(b"not a video at all")
    elif case == "empty_video":
        drive = tmp_path / "grey.mp4"
        with VideoWriter(drive, 25, 128, 128) as w:
            for _ in range(5):
                w.write(np.full((128, 128, 3), 128, np.uint8))
    elif case == "no_person_ref":
        image = tmp_path / "grey.png"
        cv2.imwrite(str(image), np.full((200, 200, 3), 120, np.uint8))
    elif case == "head_only_body":
        image, extra = GRACE_HOPPER, ["--mode", "body"]
    else:
        preset = tmp_path / "p.yaml"
        preset.write_text(f"diffusion:\n  checkpoint: {tmp_path}\n")
        extra = ["--renderer", "diffusion", "--preset", str(preset)]
    code = main(["animate", "--image", str(image), "--drive", str(drive), "-o", str(out), "-q",
                 *extra])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("avatarvid: error:") and message in err[0]
    assert not out.exists()
    if out.parent.exists():
        assert [p for p in out.parent.iterdir() if ".mp4" in p.name and p != drive] == []


def test_animate_portrait_face_mode(tmp_path, astronaut_path, capsys):
    """A head-and-shoulders reference is animated in face mode by a talking-head driver."""
    drive = tmp_path / "head.mp4"
    img = load_image(GRACE_HOPPER)[:512, :512]
    img = cv2.resize(img, (256, 256))
    with VideoWriter(drive, 25, 256, 256) as w:
        for k in range(12):  # the portrait slides and turns slightly: a moving head
            m = cv2.getRotationMatrix2D((128, 110), 4 * np.sin(k / 3), 1.0)
            w.write(cv2.warpAffine(img, m, (256, 256), borderMode=cv2.BORDER_REFLECT))
    out = tmp_path / "face.mp4"
    code = main(["animate", "--image", str(astronaut_path), "--drive", str(drive), "-o", str(out),
                 "--size", "256"])  # fmt: skip
    assert code == 0
    assert "face mode" in capsys.readouterr().out
    assert probe(out).num_frames == 12


def test_body_mode_paints_the_opened_mouth(animate_data):
    """The face warp composed into the body warp cannot draw a mouth opened wider than the
    photo's: body mode lays the painted interior over it, as face mode does."""
    root, _, _ = animate_data
    ref = perceive_reference(root / "ref.png", 320)
    track = track_driver(root / "driver.mp4", FaceMotionFitter(None, "relative"), need_pose=True)
    render = BodyRenderer(ref, track, "relative")
    motion = np.zeros(MOTION_LAYOUT.dim, np.float32)
    closed, _ = render(0, motion)
    motion[MOTION_LAYOUT.index("jaw_open")] = 1.0
    opened, target = render(0, motion)
    assert target is not None
    lips = target[list(LIPS_INNER), :2]
    x0, y0 = np.floor(lips.min(axis=0)).astype(int)
    x1, y1 = np.ceil(lips.max(axis=0)).astype(int)
    inside = np.zeros(opened.shape[:2], np.uint8)
    cv2.fillPoly(inside, [lips.round().astype(np.int32)], 1)
    grey = lambda f: f.astype(float).mean(axis=2)[inside > 0]  # noqa: E731
    assert y1 - y0 > 4 and x1 > x0  # the lips did part
    # a dark cavity (53 grey levels), not the stretched lips (125 before; closed 147)
    assert grey(opened).mean() < 90 < grey(closed).mean()
