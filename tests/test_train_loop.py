"""The shared training loop: two processes, exact resume, safe state, validated configs."""

from __future__ import annotations

import ast
import json
import logging
import os
import pathlib
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import EXAMPLES
from PIL import Image
from safetensors.torch import load_file

from avatarvid.cli import main

ROOT = Path(__file__).resolve().parent.parent
LOOP_CODE = ROOT / "avatarvid" / "train"


def sr_config(tmp_path: Path, images: list[Path], **train) -> Path:
    """A tiny one-pass SR run: the cheapest real target."""
    cfg = {
        "output": str(tmp_path / "run"),
        "export": str(tmp_path / "model"),
        "variant": "fast",
        "model": {"channels": 8, "num_blocks": 2},
        "data": {"images": [str(p) for p in images], "frames": 2, "patch": 32},
        "train": {"steps": 4, "batch_clips": 2, "log_every": 1, "checkpoint_every": 2, **train},
    }
    path = tmp_path / "sr.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def log_records(tmp_path: Path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]


@pytest.fixture
def two_photos(tmp_path, astronaut) -> list[Path]:
    """Two different images, so that each of two ranks gets a shard of its own."""
    flipped = tmp_path / "flipped.png"
    Image.fromarray(np.ascontiguousarray(astronaut[::-1])).save(flipped)
    return [EXAMPLES / "astronaut.png", flipped]


def test_two_processes_draw_different_samples_and_write_once(tmp_path, two_photos):
    config = sr_config(tmp_path, two_photos, steps=2, checkpoint_every=1)
    accelerate = Path(sys.executable).with_name("accelerate")
    # `--multi_gpu` is accelerate's torchrun launcher; `--device cpu` makes it gloo on the CPU
    # (accelerate 1.15's `--cpu` alone starts one process unless MPI is set up).
    launch = "launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no "
    launch += "--dynamo_backend no --monitor_interval 0.1 -m avatarvid.cli train sr"
    cmd = [str(accelerate), *launch.split(), "--config", str(config), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    records = log_records(tmp_path)
    assert [r["step"] for r in records] == [1, 2]
    assert all(np.isfinite(r["loss"]) for r in records)
    # cosine over 2 steps, stepped once per optimizer step: half the rate after step 1
    assert records[0]["lr"] == pytest.approx(0.5e-3) and records[1]["lr"] == 0.0
    per_rank = [sum((r["samples"][rank] for r in records), []) for rank in (0, 1)]
    assert all(len(ids) == 2 for ids in per_rank) and not set(per_rank[0]) & set(per_rank[1])
    state = sorted(p.name for p in (tmp_path / "run" / "state").iterdir())
    assert state == [
        "extra.json",
        "model.safetensors",
        "optimizer.bin",
        "progress.json",
        "rng.safetensors",
        "scheduler.bin",
    ]
    assert set(load_file(tmp_path / "run" / "state" / "rng.safetensors")) == {
        "torch_0",
        "torch_1",
        "generator_0",
        "generator_1",
    }
    model = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert model == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
        "scheduler_config.json",
        "training.json",
    ]
    assert json.loads((tmp_path / "model" / "training.json").read_text())["processes"] == 2


def test_resume_continues_exactly_where_it_stopped(tmp_path, two_photos, caplog):
    """2 steps + resume to 4 = 4 steps in one go: step count, LR schedule, optimizer, EMA and
    random streams all continue."""
    train = {"lr_schedule": "constant_with_warmup", "warmup": 3, "ema_decay": 0.9}
    straight = tmp_path / "straight"
    straight.mkdir()
    assert main(["train", "sr", "--config", str(sr_config(straight, two_photos, **train))]) == 0
    parts = tmp_path / "parts"
    parts.mkdir()
    sr_config(parts, two_photos, **{**train, "steps": 2})
    try:
        assert main(["train", "sr", "--config", str(parts / "sr.yaml"), "-v"]) == 0
    finally:
        logging.getLogger("avatarvid").setLevel(logging.NOTSET)
    assert any(r.levelno == logging.INFO and "step 2/2" in r.message for r in caplog.records)
    sr_config(parts, two_photos, **train)
    assert main(["train", "sr", "--config", str(parts / "sr.yaml"), "--resume"]) == 0
    a = load_file(straight / "model" / "diffusion_pytorch_model.safetensors")
    b = load_file(parts / "model" / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def without_time(records):
        return [{k: v for k, v in r.items() if k != "minutes"} for r in records]

    # the same losses, learning rates and samples
    assert without_time(log_records(straight)) == without_time(log_records(parts))
    assert [r["step"] for r in log_records(parts)] == [1, 2, 3, 4]


class _Payload:
    """Unpickling this creates `marker`: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


@pytest.mark.parametrize("planted", ["custom_checkpoint_0.pkl", "optimizer.bin"])
def test_resume_refuses_a_planted_pickle(tmp_path, capsys, planted):
    config = sr_config(tmp_path, [EXAMPLES / "astronaut.png"], steps=2)
    assert main(["train", "sr", "--config", str(config)]) == 0
    marker = tmp_path / "pwned"
    with open(tmp_path / "run" / "state" / planted, "wb") as fh:
        if planted.endswith(".pkl"):
            pickle.dump(_Payload(marker), fh)
        else:
            torch.save({"state": _Payload(marker)}, fh)
    sr_config(tmp_path, [EXAMPLES / "astronaut.png"], steps=4)
    capsys.readouterr()
    assert main(["train", "sr", "--config", str(config), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("avatarvid: error: refusing to resume from ") and err.count("\n") == 1
    assert (planted in err) if planted.endswith(".pkl") else ("unsafe state file" in err)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("output: o\nexport: e\ncolour: red\n", "colour: Extra inputs are not permitted"),
        ("output: o\nexport: e\ntrain: {steps: many}\n", "train.steps: Input should be a valid"),
        ("output: o\nexport: e\ntrain: {lr: -1}\n", "train.lr: Input should be greater than 0"),
        (
            "output: o\nexport: e\nspeech: /nonexistent.wav\nphotos: []\nheldout_photos: []\n",
            "speech: Value error, /nonexistent.wav is not a file",
        ),
        ("output: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "must be a mapping of settings"),
    ],
)
def test_a_bad_config_is_one_line_naming_file_and_field(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["train", "renderer", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("avatarvid: error: ") and str(path) in err and expected in err
    assert err.count("\n") == 1


def test_a_missing_config_or_data_folder_is_a_user_error(tmp_path, capsys):
    assert main(["train", "sr", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert (
        capsys.readouterr().err
        == f"avatarvid: error: training config {tmp_path / 'nope.yaml'} does not exist\n"
    )
    path = tmp_path / "motion.yaml"
    path.write_text(f"data: {tmp_path / 'missing'}\noutput: o\nexport: e\n")
    assert main(["train", "motion", "--config", str(path)]) == 2
    assert (
        f"data: Value error, {tmp_path / 'missing'} is not a directory" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "name", ["motion", "motion_prior", "renderer", "renderer_distill", "sr_fast", "sr_diffusion"]
)
def test_shipped_training_configs_validate(tmp_path, name):
    from avatarvid.train.motion import MotionTrainConfig
    from avatarvid.train.motion_prior import PriorTrainConfig
    from avatarvid.train.renderer import RendererTrainConfig
    from avatarvid.train.renderer_distill import DistillTrainConfig
    from avatarvid.train.sr import SRTrainConfig

    schema = {
        "motion": MotionTrainConfig,
        "motion_prior": PriorTrainConfig,
        "renderer": RendererTrainConfig,
        "renderer_distill": DistillTrainConfig,
    }.get(name, SRTrainConfig)
    data = yaml.safe_load((ROOT / "configs" / "train" / f"{name}.yaml").read_text())
    # the corpora exist only after `avatarvid data tts|clips` (relative paths: from the cwd)
    data.update({"data": str(tmp_path)} if name.startswith("motion") else {})
    cfg = schema.model_validate(data)
    assert cfg.export.parts[0] == "checkpoints" and cfg.train.max_minutes > 0


def test_no_unsafe_torch_load_in_training_code():
    for path in LOOP_CODE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                safe = [k for k in node.keywords if k.arg == "weights_only"]
                assert safe and ast.unparse(safe[0].value) == "True", f"{path}:{node.lineno}"


def test_max_minutes_stops_saves_and_exports(tmp_path):
    config = sr_config(tmp_path, [EXAMPLES / "astronaut.png"], steps=50, max_minutes=1e-9)
    assert main(["train", "sr", "--config", str(config)]) == 0
    progress = json.loads((tmp_path / "run" / "state" / "progress.json").read_text())
    assert progress["step"] == 1  # any step takes longer than the budget
    assert json.loads((tmp_path / "model" / "training.json").read_text())["steps"] == 1
