"""`avatarvid train renderer --config configs/train/renderer.yaml`: the diffusion renderer.

Stage 1 trains on single frames (the temporal layers are skipped when a clip has one frame),
stage 2 on clips (temporal layers on). v-prediction; the loss is uniform over timesteps unless
`min_snr_gamma` asks for min-SNR weighting, which starves the high-noise steps: the few-step
sampler's first step is the network's conditional mean at t = T, learnt only there. Conditions
are dropped together with probability `cond_dropout` so classifier-free guidance has an
unconditional model; AdamW with warm-up and cosine decay; EMA weights are what is saved.
accelerate runs the same loop on this CPU or on GPUs; `--resume` continues from the last
state in `work_dir`.
"""

from __future__ import annotations

import glob
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from diffusers import DDPMScheduler
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel
from pydantic import BaseModel, ConfigDict

from avatarvid.data.renderer_clips import ClipSet, face_sources, make_clips
from avatarvid.errors import InputError
from avatarvid.evaluate.renderer import evaluate
from avatarvid.models.renderer_unet import RendererUNet
from avatarvid.sampling.schedulers import save_scheduler
from avatarvid.stages.refiner import condition, to_tensor

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent.parent


class RendererTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    photos: list[str]  # globs (relative to the repository or absolute)
    heldout_photos: list[str]
    # An identity neither trained on nor the held-out one: settings are tuned on it, not on
    # the held-out clips (empty = none).
    validation_photos: list[str] = []
    speech: str = "examples/speech.wav"
    size: int = 64
    frames: int = 8
    clips_per_source: int = 24
    heldout_clips_per_source: int = 6
    block_channels: list[int] = [32, 64, 96]
    attention_levels: list[bool] = [False, False, True]
    layers_per_block: int = 1
    heads: int = 4
    residual_scale: float = 4.0
    stage1_steps: int = 400
    stage2_steps: int = 400
    batch_frames: int = 16  # stage 1: single frames per step
    batch_clips: int = 2  # stage 2: clips per step
    lr: float = 5e-4
    lr_warmup_steps: int = 100  # then cosine decay to 0 over both stages
    ema_decay: float = 0.995
    cond_dropout: float = 0.1
    min_snr_gamma: float = 0.0  # min-SNR loss weighting (Hang et al. 2023); 0 = uniform
    seed: int = 0
    # torch threads (0 = torch's default). On a shared CPU, 1 thread was ~7x faster than 2:
    # OpenMP workers spin waiting for each other when other processes hold the cores.
    threads: int = 0
    checkpoint_every: int = 100
    max_minutes: float = 0.0  # stop (and save) after this much wall time in total; 0 = no limit
    work_dir: str = "work/renderer"
    output: str = "checkpoints/renderer"
    eval_steps: int = 4
    eval_strength: float = 0.5
    eval_samples: int = 1


def _paths(globs: list[str]) -> list[Path]:
    found = sorted(
        {
            Path(p)
            for g in globs
            for p in glob.glob(str(ROOT / g) if not Path(g).is_absolute() else g)
        }
    )
    if not found:
        raise InputError(f"no photos match {globs}")
    return found


def noise_scheduler() -> DDPMScheduler:
    return DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction"
    )


def _data(cfg: RendererTrainConfig, work: Path) -> dict[str, ClipSet]:
    """Training, held-out (and validation) clips, built once and cached in the work directory."""
    sets = {}
    for name, globs, n, seed in (
        ("train", cfg.photos, cfg.clips_per_source, cfg.seed),
        ("heldout", cfg.heldout_photos, cfg.heldout_clips_per_source, cfg.seed + 1),
        ("validation", cfg.validation_photos, cfg.heldout_clips_per_source, cfg.seed + 2),
    ):
        if not globs:
            continue
        path = work / f"{name}_{cfg.size}_{cfg.frames}.npz"
        if not path.is_file():
            sources = face_sources(_paths(globs))
            clips = make_clips(
                sources, ROOT / cfg.speech, n, cfg.frames, cfg.size, seed, augment=name == "train"
            )
            clips.save(path)
            log.info("%s: %d faces, %d clips", name, len(sources), len(clips.gt))
        sets[name] = ClipSet.load(path)
    return sets


def build_model(cfg: RendererTrainConfig) -> RendererUNet:
    return RendererUNet(
        block_channels=tuple(cfg.block_channels),
        layers_per_block=cfg.layers_per_block,
        attention_levels=tuple(cfg.attention_levels),
        heads=cfg.heads,
        sample_size=cfg.size,
        residual_scale=cfg.residual_scale,
    )


def _batch(
    clips: ClipSet, rng: np.random.Generator, single: int | None, clips_n: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0 = scaled residual to the warp, cond): `single` random frames as 1-frame clips, or
    `clips_n` whole clips."""
    if single:
        c = rng.integers(0, len(clips.gt), single)
        f = rng.integers(0, clips.gt.shape[1], single)
        index = (c, f)
    else:
        c = rng.integers(0, len(clips.gt), clips_n)
        index = (c,)
    gt, *per_frame = (
        a[index][:, None] if single else a[index]
        for a in (clips.gt, clips.warped, clips.controls, clips.normals, clips.reference_normals)
    )
    cond = torch.stack([condition(*p) for p in zip(*per_frame, clips.reference[c], strict=True)])
    warped = per_frame[0]
    return (to_tensor(gt) - to_tensor(warped)) * scale, cond


def loss_weights(scheduler: DDPMScheduler, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-sample weights of the v-prediction MSE: min(SNR, gamma) / (SNR + 1), or ones."""
    if not gamma:
        return torch.ones(len(t))
    snr = scheduler.alphas_cumprod[t.cpu()] / (1 - scheduler.alphas_cumprod[t.cpu()])
    return snr.clamp(max=gamma) / (snr + 1)


def train(config_path: Path, resume: bool) -> int:
    from accelerate import Accelerator

    cfg = RendererTrainConfig.model_validate(yaml.safe_load(Path(config_path).read_text()))
    work = ROOT / cfg.work_dir if not Path(cfg.work_dir).is_absolute() else Path(cfg.work_dir)
    out = ROOT / cfg.output if not Path(cfg.output).is_absolute() else Path(cfg.output)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    sets = _data(cfg, work)
    train_set = sets["train"]
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    total = cfg.stage1_steps + cfg.stage2_steps
    lr_sched = get_cosine_schedule_with_warmup(opt, cfg.lr_warmup_steps, total)
    model, opt, lr_sched = accelerator.prepare(model, opt, lr_sched)
    ema = EMAModel(accelerator.unwrap_model(model).parameters(), decay=cfg.ema_decay)
    sched = noise_scheduler()
    step, wall, cpu = 0, 0.0, 0.0
    state = work / "state"
    if resume and (state / "progress.json").is_file():
        accelerator.load_state(str(state))
        ema.load_state_dict(torch.load(state / "ema.pt", weights_only=True))
        progress = json.loads((state / "progress.json").read_text())
        step, wall, cpu = progress["step"], progress["wall_s"], progress["cpu_s"]
    rng = np.random.default_rng(cfg.seed + step)
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    model.train()
    while step < total:
        single = cfg.batch_frames if step < cfg.stage1_steps else None
        x0, cond = _batch(train_set, rng, single, cfg.batch_clips, cfg.residual_scale)
        x0, cond = x0.to(accelerator.device), cond.to(accelerator.device)
        keep = torch.rand(len(x0), device=x0.device) >= cfg.cond_dropout
        cond = cond * keep[:, None, None, None, None]
        noise = torch.randn_like(x0)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(x0),), device=x0.device)
        noisy = sched.add_noise(x0, noise, t)
        err = (model(noisy, t, cond) - sched.get_velocity(x0, noise, t)).pow(2).mean((1, 2, 3, 4))
        loss = (err * loss_weights(sched, t, cfg.min_snr_gamma).to(err.device)).mean()
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lr_sched.step()
        opt.zero_grad()
        ema.step(accelerator.unwrap_model(model).parameters())
        step += 1
        if step % 20 == 0:
            log.warning("step %d/%d loss %.4f", step, total, loss.item())
        elapsed = wall + time.perf_counter() - t_wall
        out_of_time = cfg.max_minutes > 0 and elapsed >= 60 * cfg.max_minutes
        if step % cfg.checkpoint_every == 0 or step == total or out_of_time:
            accelerator.save_state(str(state))
            torch.save(ema.state_dict(), state / "ema.pt")
            now_wall = wall + time.perf_counter() - t_wall
            now_cpu = cpu + time.process_time() - t_cpu
            progress = {"step": step, "wall_s": now_wall, "cpu_s": now_cpu}
            (state / "progress.json").write_text(json.dumps(progress))
        if out_of_time:
            log.warning("stopped by max_minutes at step %d", step)
            break
    progress = json.loads((state / "progress.json").read_text())
    final = accelerator.unwrap_model(model)
    ema.copy_to(final.parameters())
    final.eval()
    out.mkdir(parents=True, exist_ok=True)
    final.save_pretrained(out)
    save_scheduler(sched, out)
    metrics = {}
    for name in ("validation", "heldout"):
        if name in sets:
            torch.manual_seed(cfg.seed)
            untrained = build_model(cfg).eval()
            metrics[name] = evaluate(final, untrained, dict(sched.config), sets[name], cfg)
    metrics["train"] = {
        "steps": progress["step"],
        "wall_s": round(progress["wall_s"], 1),
        "cpu_s": round(progress["cpu_s"], 1),
        "params": sum(p.numel() for p in final.parameters()),
        "train_clips": len(train_set.gt),
        "heldout_clips": len(sets["heldout"].gt),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(json.dumps(metrics, indent=1))
    return 0
