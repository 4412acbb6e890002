"""The one training loop behind `avatarvid train`: each model brings only its data and loss.

accelerate runs the same loop on this CPU or on several processes / GPUs (`accelerate launch`).
Per rank: seed + rank for every random draw and its own shard of the data (`shard`), so ranks
see different samples; the LR schedule advances once per optimizer step (accelerate would
advance it once per process); checkpoints, logs and the export are written by the main process
only. The state (train/state.py) resumes the step count, the LR schedule, the EMA and every
rank's random generators, without pickle. The export is the EMA weights (`save_pretrained`)
with the noise scheduler next to them (`save_scheduler`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, gather_object
from diffusers.optimization import get_scheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from avatarvid.device import resolve_device
from avatarvid.sampling.schedulers import save_scheduler
from avatarvid.train import state
from avatarvid.train.config import LoopSettings, TrainConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Context:
    """This process's place in the run and its random streams (seeded with seed + rank)."""

    rank: int
    world: int
    device: torch.device
    rng: np.random.Generator
    generator: torch.Generator


class Task(Protocol):
    """What a model brings to the loop."""

    model: torch.nn.Module  # a diffusers ModelMixin: exported with save_pretrained
    noise_scheduler: SchedulerMixin  # exported with save_scheduler

    def loss(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, str]:
        """The loss of one freshly drawn batch and a fingerprint of that batch (`fingerprint`)."""
        ...

    def evaluate(self, model: torch.nn.Module) -> dict[str, float]:
        """Held-out numbers for the log, computed with the EMA weights (may be empty)."""
        ...

    def finish(self, model: torch.nn.Module, export: Path, progress: dict) -> None:
        """Anything to write next to the exported weights (main process only)."""
        ...


def shard(items: Sequence[T], ctx: Context) -> list[T]:
    """This rank's share of `items` (every world-th one); all of them when too few to split."""
    if 0 < len(items) < ctx.world:
        log.warning(
            "%d items are too few to shard over %d ranks: every rank uses all of them",
            len(items),
            ctx.world,
        )
    if len(items) < ctx.world:
        return list(items)
    return list(items[ctx.rank :: ctx.world])


def fingerprint(*arrays: np.ndarray | torch.Tensor) -> str:
    """A short hash of a batch's inputs: the log shows which samples each rank drew."""
    h = hashlib.blake2b(digest_size=6)
    for a in arrays:
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def run(
    cfg: TrainConfig, make_task: Callable[[Context], Task], resume: bool, device: str = "auto"
) -> int:
    """Train `make_task(ctx)` per `cfg.train`, checkpointing to `cfg.output`/state and exporting
    to `cfg.export`; with `resume`, continue from the last checkpoint. `device` "cpu" (or
    "auto" without an accelerator) runs every process on the CPU (gloo when launched on several)."""
    s = cfg.train
    accelerator, ctx, task = _start(s, make_task, device)
    main = accelerator.is_main_process
    model = task.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    lr_schedule = get_scheduler(
        s.lr_schedule,
        optimizer,
        num_warmup_steps=s.warmup,
        num_training_steps=s.steps,
        num_cycles=s.lr_cycles,
    )
    model, optimizer, lr_schedule = accelerator.prepare(model, optimizer, lr_schedule)
    net = accelerator.unwrap_model(model)
    ema = EMAModel(net.parameters(), decay=s.ema_decay) if s.ema_decay else None
    state_dir, log_path = cfg.output / "state", cfg.output / "log.jsonl"
    progress = {"step": 0, "wall_s": 0.0, "cpu_s": 0.0}
    if resume and (state_dir / state.PROGRESS).is_file():
        progress = state.load(accelerator, state_dir, ema, ctx.rng, ctx.generator)
        if ema is not None:
            ema.to(accelerator.device)
        log.info("resumed at step %d", progress["step"])
    else:
        if resume:
            log.warning("no training state in %s: starting from step 0", state_dir)
        if main:
            cfg.output.mkdir(parents=True, exist_ok=True)
            log_path.unlink(missing_ok=True)
    step = progress["step"]
    t_wall = time.perf_counter() - progress["wall_s"]
    t_cpu = time.process_time() - progress["cpu_s"]
    bar = tqdm(total=s.steps, initial=step, disable=not main, desc="train", unit="step")
    losses: list[torch.Tensor] = []
    seen: list[str] = []
    model.train()
    while step < s.steps:
        loss, batch_id = task.loss(model, step)
        accelerator.backward(loss)
        if s.grad_clip:
            accelerator.clip_grad_norm_(model.parameters(), s.grad_clip)
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad()
        if ema is not None:
            ema.step(net.parameters())
        step += 1
        losses.append(loss.detach())
        seen.append(batch_id)
        bar.update(1)
        progress = {
            "step": step,
            "wall_s": time.perf_counter() - t_wall,
            "cpu_s": time.process_time() - t_cpu,
        }
        over = _out_of_time(accelerator, progress["wall_s"], s.max_minutes)
        last = step == s.steps or over
        if step % s.log_every == 0 or last:
            # every rank takes part in the reductions; the main process writes the record
            mean = accelerator.reduce(torch.stack(losses).mean(), "mean").item()
            samples = gather_object([seen])
            if main:
                record = {"step": step, "loss": mean, "lr": lr_schedule.get_last_lr()[0]}
                record.update(_evaluate(task, net, ema))
                record.update(minutes=round(progress["wall_s"] / 60, 2), samples=samples)
                with open(log_path, "a") as fh:
                    fh.write(json.dumps(record) + "\n")
                bar.set_postfix(loss=f"{mean:.4g}")
                log.info("step %d/%d loss %.5f", step, s.steps, mean)
            losses, seen = [], []
        if step % s.checkpoint_every == 0 or last:
            state.save(accelerator, state_dir, ema, ctx.rng, ctx.generator, progress)
        if over:
            log.warning("stopped by max_minutes (%g) at step %d", s.max_minutes, step)
            break
    bar.close()
    if main:
        _export(cfg.export, task, net, ema, progress, accelerator.num_processes)
    accelerator.wait_for_everyone()
    return 0


def _start(
    s: LoopSettings, make_task: Callable[[Context], Task], device: str
) -> tuple[Accelerator, Context, Task]:
    """The accelerator, this rank's context and the task, built with the same initial weights
    on every rank (seed), then every rank's own random stream (seed + rank)."""
    if s.threads:
        torch.set_num_threads(s.threads)
    # Renderer stage 1 skips the temporal layers: DDP must tolerate parameters without grads.
    accelerator = Accelerator(
        cpu=resolve_device(device).type == "cpu",
        step_scheduler_with_optimizer=False,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    rank = accelerator.process_index
    torch.manual_seed(s.seed)
    ctx = Context(
        rank,
        accelerator.num_processes,
        accelerator.device,
        np.random.default_rng(s.seed + rank),
        torch.Generator().manual_seed(s.seed + rank),
    )
    with accelerator.main_process_first():  # the main process builds data caches first
        task = make_task(ctx)
    torch.manual_seed(s.seed + rank)
    return accelerator, ctx, task


def _out_of_time(accelerator: Accelerator, wall_s: float, max_minutes: float) -> bool:
    """Whether the budget is spent, by the main process's clock so that all ranks stop at once."""
    if not max_minutes:
        return False
    over = float(accelerator.is_main_process and wall_s >= 60 * max_minutes)
    return bool(accelerator.reduce(torch.tensor([over], device=accelerator.device), "sum").item())


def _evaluate(task: Task, net: torch.nn.Module, ema: EMAModel | None) -> dict[str, float]:
    """`task.evaluate` with the EMA weights swapped in (and back out)."""
    if ema is not None:
        ema.store(net.parameters())
        ema.copy_to(net.parameters())
    net.eval()
    try:
        with torch.no_grad():
            return task.evaluate(net)
    finally:
        net.train()
        if ema is not None:
            ema.restore(net.parameters())


def _export(
    export: Path,
    task: Task,
    net: torch.nn.Module,
    ema: EMAModel | None,
    progress: dict,
    processes: int,
) -> None:
    """The EMA (or trained) weights, the noise scheduler and the run's totals."""
    if ema is not None:
        ema.copy_to(net.parameters())
    net.eval()
    export.mkdir(parents=True, exist_ok=True)
    net.save_pretrained(export, safe_serialization=True)
    save_scheduler(task.noise_scheduler, export)
    summary = {
        "steps": progress["step"],
        "wall_s": round(progress["wall_s"], 3),
        "cpu_s": round(progress["cpu_s"], 3),
        "processes": processes,
        "params": sum(p.numel() for p in net.parameters()),
    }
    (export / "training.json").write_text(json.dumps(summary, indent=1) + "\n")
    task.finish(net, export, summary)
    log.info("exported %s to %s", "EMA weights" if ema else "weights", export)
