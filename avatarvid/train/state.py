"""Resumable training state without pickle: what accelerate would pickle goes to safetensors + JSON.

accelerate's `save_state(safe_serialization=True)` writes the weights as safetensors and the
optimizer / LR-schedule state with `torch.save`, which its `load_state` reads back with
`weights_only=True`. Its RNG states (`random_states_*.pkl`) and registered custom objects
(`custom_checkpoint_*.pkl`, unpickled with `weights_only=False`) are not used: the EMA, the
per-rank random generators and the progress counters are written here as safetensors + JSON,
and a state folder holding any `.pkl` is refused before anything in it is read.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from diffusers.training_utils import EMAModel
from safetensors.torch import load_file, save_file

from avatarvid.errors import InputError

PROGRESS = "progress.json"


def save(
    accelerator: Accelerator,
    directory: Path,
    ema: EMAModel | None,
    rng: np.random.Generator,
    generator: torch.Generator,
    progress: dict,
) -> None:
    """Checkpoint every rank's state into `directory`; only the main process writes files."""
    accelerator.save_state(str(directory), safe_serialization=True)
    # every rank's generators, gathered so that one process writes them
    ranks = gather_object(
        [
            {
                "numpy": rng.bit_generator.state,
                "torch": torch.get_rng_state().tolist(),
                "generator": generator.get_state().tolist(),
            }
        ]
    )
    if accelerator.is_main_process:
        for stale in directory.glob("random_states_*.pkl"):
            stale.unlink()
        tensors = {
            f"{name}_{rank}": torch.tensor(r[name], dtype=torch.uint8)
            for rank, r in enumerate(ranks)
            for name in ("torch", "generator")
        }
        save_file(tensors, directory / "rng.safetensors")
        scalars: dict = {"numpy": [r["numpy"] for r in ranks]}
        if ema is not None:
            ema_state = ema.state_dict()
            shadow = ema_state.pop("shadow_params")
            save_file(
                {str(i): p.detach().cpu().contiguous() for i, p in enumerate(shadow)},
                directory / "ema.safetensors",
            )
            scalars["ema"] = ema_state
        (directory / "extra.json").write_text(json.dumps(scalars))
        (directory / PROGRESS).write_text(json.dumps(progress))
    accelerator.wait_for_everyone()


def load(
    accelerator: Accelerator,
    directory: Path,
    ema: EMAModel | None,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> dict:
    """Restore what `save` wrote (this rank's generators) and return the progress counters."""
    pickles = sorted(p.name for p in directory.glob("*.pkl"))
    if pickles:
        raise InputError(
            f"refusing to resume from {directory}: {', '.join(pickles)} would be unpickled "
            "(pickle can run code); avatarvid's state holds safetensors and JSON only"
        )
    try:
        accelerator.load_state(str(directory))
    except pickle.UnpicklingError as e:
        first = str(e).splitlines()[0]
        raise InputError(
            f"refusing to resume from {directory}: unsafe state file ({first})"
        ) from None
    except (OSError, RuntimeError, ValueError) as e:
        first = str(e).splitlines()[0]
        raise InputError(f"cannot resume from {directory}: {first}") from None
    rank = accelerator.process_index
    try:
        scalars = json.loads((directory / "extra.json").read_text())
        tensors = load_file(directory / "rng.safetensors")
        rng.bit_generator.state = scalars["numpy"][rank]
        torch.set_rng_state(tensors[f"torch_{rank}"])
        generator.set_state(tensors[f"generator_{rank}"])
        if ema is not None:
            shadow = load_file(directory / "ema.safetensors")
            ema.load_state_dict(
                {**scalars["ema"], "shadow_params": [shadow[str(i)] for i in range(len(shadow))]}
            )
        return json.loads((directory / PROGRESS).read_text())
    except (OSError, KeyError, IndexError, ValueError) as e:
        raise InputError(
            f"cannot resume from {directory}: {type(e).__name__}: {e} (saved with another "
            "number of processes or settings? start again without --resume)"
        ) from None
