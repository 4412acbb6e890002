"""One settings path: defaults <- preset <- overrides, deep-merged and validated once, with
errors that say where a bad value came from (preset file + field, CLI flag, API keyword)."""

from __future__ import annotations

import pytest

from avatarvid.cli import main
from avatarvid.config.load import deep_merge, load_settings
from avatarvid.config.settings import (
    ANIMATE_PRESET_KEYS,
    AnimateConfig,
    UpscaleConfig,
    VlogConfig,
)
from avatarvid.errors import InputError


def test_deep_merge_keeps_nested_values_the_override_does_not_name():
    base = {"size": 256, "motion": {"head": 1.2, "brows": 1.2}, "renderer": "warp"}
    top = {"motion": {"head_motion": 0.5}, "renderer": None, "seed": 3}
    assert deep_merge(base, top) == {
        "size": 256,
        "motion": {"head": 1.2, "brows": 1.2, "head_motion": 0.5},
        "renderer": "warp",
        "seed": 3,
    }


def test_preset_then_overrides_with_refiner_alias():
    cfg = load_settings(
        VlogConfig,
        "quality",
        {"motion": {"head_motion": 0.5}, "refiner": {"steps": 3}, "size": 320},
    )
    assert (cfg.size, cfg.crf, cfg.x264_preset) == (320, 17, "medium")  # size overridden
    assert (cfg.motion.head, cfg.motion.head_motion) == (1.2, 0.5)  # merged, not replaced
    assert cfg.diffusion.steps == 3 and cfg.diffusion.samples == 4
    assert cfg.device == "auto"


def test_preset_error_names_the_file_and_dotted_field(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text("diffusion:\n  steps: 0\nmotion:\n  head: 9\n")
    with pytest.raises(InputError) as e:
        load_settings(VlogConfig, str(preset), {"seed": 1})
    message = str(e.value)
    assert "preset mine.yaml: diffusion.steps: Input should be greater than or equal to 1" in (
        message
    )
    assert "preset mine.yaml: motion.head:" in message and "\n" not in message


def test_flag_value_is_blamed_on_the_flag_not_the_preset(tmp_path, capsys):
    preset = tmp_path / "p.yaml"
    preset.write_text("diffusion:\n  steps: 2\n")
    argv = ["vlog", "--image", "x.png", "--audio", "x.wav", "-o", str(tmp_path / "o.mp4")]
    assert main([*argv, "--preset", str(preset), "--steps", "0", "--head-motion", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "avatarvid: error: --steps: Input should be greater than or equal to 1; "
        "--head-motion: Input should be less than or equal to 3"
    ]


def test_api_override_names_the_setting():
    with pytest.raises(InputError, match=r"setting sr\.mode: Input should be"):
        load_settings(VlogConfig, "default", {"sr": {"mode": "huge"}})
    with pytest.raises(InputError, match=r"setting colour: Extra inputs are not permitted"):
        load_settings(VlogConfig, "default", {"colour": "red"})
    with pytest.raises(InputError, match="either refiner or diffusion"):
        load_settings(VlogConfig, "default", {"refiner": {}, "diffusion": {}})


def test_animate_takes_only_the_shared_sections_of_a_preset():
    cfg = load_settings(AnimateConfig, "diffusion", {}, preset_keys=ANIMATE_PRESET_KEYS)
    assert cfg.size == 512 and cfg.renderer == "warp"  # not the vlog preset's 256 / diffusion
    assert cfg.diffusion.checkpoint == "checkpoints/renderer/distilled"
    with pytest.raises(InputError, match=r"setting size: Input should be a multiple of 2"):
        load_settings(AnimateConfig, None, {"size": 321})


def test_upscale_settings_and_scale_message():
    assert load_settings(UpscaleConfig, None, {}).model_dump() == {
        "crf": 18,
        "x264_preset": "veryfast",
        "encoder_threads": 0,
        "device": "auto",
        "scale": 2,
        "sr": "fast",
        "steps": 4,
        "max_memory": 700,
    }
    with pytest.raises(InputError, match=r"--scale: scale 3 is not supported; use 2 or 4"):
        load_settings(UpscaleConfig, None, {"scale": 3}, flags={"scale": "--scale"})


def test_batch_jobs_use_the_same_settings_and_deep_merge(tmp_path, capsys):
    from avatarvid.pipelines.batch.schema import load_jobs

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "defaults: {preset: quality, seed: 4}\n"
        "jobs:\n"
        "  - {image: a.png, audio: a.wav, output: a.mp4, motion: {head: 1.5, head_motion: 0.5},"
        " refiner: {steps: 3}}\n"
        "  - {kind: animate, image: a.png, drive: d.mp4, output: b.mp4, sr: {mode: bicubic}}\n"
    )
    vlog, animate = load_jobs(jobs, device="cpu")
    cfg = vlog.spec["config"]
    assert (cfg["size"], cfg["device"], cfg["encoder_threads"], cfg["seed"]) == (512, "cpu", 2, 4)
    assert (cfg["motion"]["head"], cfg["motion"]["head_motion"]) == (1.5, 0.5)
    assert (cfg["motion"]["brows"], cfg["diffusion"]["steps"]) == (1.2, 3)  # preset kept
    cfg = animate.spec["config"]
    assert (cfg["size"], cfg["sr"]["mode"], cfg["device"]) == (512, "bicubic", "cpu")
    assert main(["batch", str(jobs), "--check", "--device", "gpu"]) == 2
    assert "--device 'gpu' is not one of auto, cpu, cuda, mps" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("values", "flags", "message"),
    [
        ({"fps": float("nan")}, {"fps": "--fps"}, r"--fps: Input should be a finite number"),
        ({"fps": float("inf")}, {"fps": "--fps"}, r"--fps: Input should be a finite number"),
        ({"seed": 2**40}, {"seed": "--seed"}, r"--seed: Input should be less than or equal to"),
        ({"seed": -1}, {"seed": "--seed"}, r"--seed: Input should be greater than or equal to 0"),
    ],
)
def test_nonsense_numbers_are_refused_by_the_flag_that_gave_them(values, flags, message):
    with pytest.raises(InputError, match=message):
        load_settings(VlogConfig, "default", values, flags=flags)
