"""Click -> Python API call. Each handler checks its inputs, writes into the workspace, reports
progress through gr.Progress and can be stopped by the Cancel button (jobs.Workspace)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

import avatarvid
from avatarvid.config.load import load_config
from avatarvid.ui.jobs import Workspace, progress_bridge, require, user_errors
from avatarvid.ui.snippets import animate_snippets, upscale_snippets, vlog_settings, vlog_snippets

VLOG_CONTROLS = ("size", "seed", "head_motion", "expressiveness", "generator", "renderer", "sr")


def preset_values(preset: str) -> dict[str, Any]:
    """The Talking-video controls as the preset sets them."""
    cfg = load_config(preset)
    return {
        "size": cfg.size,
        "seed": cfg.seed,
        "head_motion": cfg.motion.head_motion,
        "expressiveness": cfg.motion.expressiveness,
        "generator": cfg.motion.generator,
        "renderer": cfg.renderer,
        "sr": cfg.sr.mode,
    }


def changed_controls(preset: str, values: tuple) -> dict[str, Any]:
    """The controls the user moved away from the preset's values (what the CLI needs as flags)."""
    base = preset_values(preset)
    chosen = {
        k: base[k] if v is None else v for k, v in zip(VLOG_CONTROLS, values, strict=True)
    }  # an emptied field (or an API call leaving it out) keeps the preset's value
    for key in ("size", "seed"):
        chosen[key] = int(chosen[key])
    return {k: v for k, v in chosen.items() if v != base[k]}


def summary(result, started: float) -> str:
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    return (
        f"**{result.frames} frames**, {result.fps:g} fps, {result.seconds:.2f} s of video; "
        f"rendered in {time.perf_counter() - started:.1f} s" + (f" ({timings})" if timings else "")
    )


def rendered(ws: Workspace, name: str, call, request, progress) -> tuple[str, str]:
    """(path, summary) of `call(output, progress=..., cancel=...)` rendered into the app's
    folder: stage progress goes to the page, the Cancel button stops it."""
    started = time.perf_counter()
    progress(0.0, desc="starting")
    with ws.render_into(name) as output:
        result = call(output, progress=progress_bridge(progress), cancel=ws.cancel_event(request))
    return str(result.path), summary(result, started)


def vlog_commands(image, audio, preset, *values) -> tuple[str, str]:
    try:
        return vlog_snippets(image, audio, preset, changed_controls(preset, values))
    except Exception:  # half-typed values: keep the last snippet
        return gr.update(), gr.update()


def preset_controls(preset: str) -> list:
    values = preset_values(preset)
    return [gr.update(value=values[k]) for k in VLOG_CONTROLS]


def make_vlog(ws: Workspace):
    @user_errors
    def vlog(
        image: str | None,
        audio: str | None,
        preset: str,
        size: float,
        seed: float,
        head_motion: float,
        expressiveness: float,
        generator: str,
        renderer: str,
        sr: str,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio's idiom)
    ) -> tuple[str, str, str, str]:
        """Photo + speech -> talking video (mp4), with the Talking-video tab's settings."""
        require(image, "a photo")
        require(audio, "speech audio (a file or a microphone recording)")
        values = (size, seed, head_motion, expressiveness, generator, renderer, sr)
        changed = changed_controls(preset, values)
        cli, python = vlog_snippets(image, audio, preset, changed)
        call = partial(avatarvid.vlog, image, audio, preset=preset, **vlog_settings(changed))
        return (*rendered(ws, f"{Path(image).stem}-talking", call, request, progress), cli, python)

    return vlog


def animate_settings(size: float, seed: float, renderer: str, sr: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"size": int(size), "seed": int(seed)}
    if renderer != "warp":
        settings["renderer"] = renderer
    if sr != "none":
        settings["sr"] = {"mode": sr}
    return settings


def animate_commands(image, drive, size, seed, renderer, sr) -> tuple[str, str]:
    try:
        return animate_snippets(image, drive, animate_settings(size, seed, renderer, sr))
    except Exception:
        return gr.update(), gr.update()


def make_animate(ws: Workspace):
    @user_errors
    def animate(
        image: str | None,
        drive: str | None,
        size: float,
        seed: float,
        renderer: str,
        sr: str,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, str, str, str]:
        """Photo + driving video -> the photo following the video's motion (mp4)."""
        require(image, "a photo")
        require(drive, "a driving video")
        settings = animate_settings(size, seed, renderer, sr)
        cli, python = animate_snippets(image, drive, settings)
        call = partial(avatarvid.animate, image, drive, **settings)
        return (*rendered(ws, f"{Path(image).stem}-animated", call, request, progress), cli, python)

    return animate


def upscale_commands(video, scale, reference, mode) -> tuple[str, str]:
    try:
        return upscale_snippets(video, int(scale), reference, mode)
    except Exception:
        return gr.update(), gr.update()


def make_upscale(ws: Workspace):
    @user_errors
    def upscale(
        video: str | None,
        scale: float,
        reference: str | None,
        mode: str,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, str, str, str]:
        """Any video -> x2 or x4 with the super-resolution models (mp4)."""
        require(video, "a video")
        cli, python = upscale_snippets(video, int(scale), reference, mode)
        call = partial(
            avatarvid.upscale,
            video,
            scale=int(scale),
            reference=reference or None,
            sr={"mode": mode},
        )
        name = f"{Path(video).stem}-x{int(scale)}"
        return (*rendered(ws, name, call, request, progress), cli, python)

    return upscale
