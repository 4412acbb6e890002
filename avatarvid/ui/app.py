"""The page: five tabs over the Python API, one render at a time (a shared queue slot)."""

from __future__ import annotations

import os

import gradio as gr

from avatarvid.assets import preset_names
from avatarvid.ui.batch import COLUMNS as BATCH_COLUMNS
from avatarvid.ui.batch import make_batch
from avatarvid.ui.components import photo
from avatarvid.ui.handlers import (
    animate_commands,
    make_animate,
    make_upscale,
    make_vlog,
    preset_controls,
    preset_values,
    upscale_commands,
    vlog_commands,
)
from avatarvid.ui.jobs import Workspace
from avatarvid.ui.quality import COLUMNS as QUALITY_COLUMNS
from avatarvid.ui.quality import make_quality

MAX_FILE_SIZE = "200mb"
RENDER_SLOT = "render"  # every render shares one concurrency slot: one at a time on the CPU
INTRO = (
    "# avatarvid\nTalking-avatar video from one photo and a voice recording, on a CPU. "
    "Renders are queued and run one at a time; the page stays usable meanwhile."
)


def _result_area(name: str):
    video = gr.Video(label="Result", interactive=False, elem_id=f"{name}-video")
    status = gr.Markdown(elem_id=f"{name}-status")
    with gr.Accordion("The same with the command line or Python", open=False):
        cli = gr.Code(
            language="shell", label="CLI", interactive=False, wrap_lines=True, elem_id=f"{name}-cli"
        )
        python = gr.Code(
            language="python",
            label="Python",
            interactive=False,
            wrap_lines=True,
            elem_id=f"{name}-python",
        )
    return video, status, cli, python


def _buttons(ws: Workspace, name: str):
    with gr.Row():
        go = gr.Button("Generate", variant="primary", elem_id=f"{name}-generate")
        stop = gr.Button("Cancel", variant="stop", elem_id=f"{name}-cancel")
    stop.click(ws.cancel, None, None, queue=False, api_visibility="private")
    return go


def _talking_tab(ws: Workspace) -> tuple:
    base = preset_values("default")
    with gr.Row():
        with gr.Column():
            image = photo("Photo", elem_id="photo")
            audio = gr.Audio(
                label="Speech (file or microphone)",
                type="filepath",
                sources=["upload", "microphone"],
                format=None,
                elem_id="speech",
            )
            preset = gr.Dropdown(preset_names(), value="default", label="Preset")
            size = gr.Slider(64, 1024, base["size"], step=32, label="Size (px)", elem_id="size")
            seed = gr.Number(base["seed"], precision=0, label="Seed")
            head = gr.Slider(0, 3, base["head_motion"], step=0.1, label="Head motion")
            expr = gr.Slider(0, 2, base["expressiveness"], step=0.1, label="Expressiveness")
            generator = gr.Radio(
                ["diffusion", "procedural"], value=base["generator"], label="Motion generator"
            )
            renderer = gr.Radio(["warp", "diffusion"], value=base["renderer"], label="Renderer")
            sr = gr.Radio(
                ["none", "bicubic", "fast", "diffusion"], value=base["sr"], label="Super-resolution"
            )
            go = _buttons(ws, "vlog")
        with gr.Column():
            video, status, cli, python = _result_area("vlog")
            measure = gr.Button("Quality report of this video", elem_id="vlog-measure")
    controls = [size, seed, head, expr, generator, renderer, sr]
    gr.Examples(
        [
            [ws.example("astronaut.png"), ws.example("lines/hello.wav")],
            [ws.example("astronaut.png"), ws.example("speech.wav")],
        ],
        [image, audio],
        label="Bundled example",
    )
    preset.change(preset_controls, preset, controls, queue=False, api_visibility="private")
    _connect(
        go,
        [image, audio, preset, *controls],
        make_vlog(ws),
        vlog_commands,
        "vlog",
        (video, status, cli, python),
    )
    return measure, (video, image, audio)


def _connect(go, inputs: list, render, commands, api_name: str, outputs: tuple) -> None:
    """A render tab's wiring: every input refreshes the equivalent CLI command and Python call
    (not queued, not an API endpoint); the button renders in the one render slot and is the
    named endpoint `api_name` for gradio_client."""
    video, status, cli, python = outputs
    for component in inputs:
        component.change(commands, inputs, [cli, python], queue=False, api_visibility="private")
    go.click(
        render, inputs, [video, status, cli, python], api_name=api_name, concurrency_id=RENDER_SLOT
    )


def _animate_tab(ws: Workspace) -> None:
    with gr.Row():
        with gr.Column():
            image = photo("Photo")
            drive = gr.Video(label="Driving video (a body or a face)", sources=["upload"])
            size = gr.Slider(64, 1024, 512, step=32, label="Size (long side, px)")
            seed = gr.Number(0, precision=0, label="Seed")
            renderer = gr.Radio(["warp", "diffusion"], value="warp", label="Renderer (face)")
            sr = gr.Radio(["none", "bicubic", "fast", "diffusion"], value="none", label="SR")
            go = _buttons(ws, "animate")
        with gr.Column():
            video, status, cli, python = _result_area("animate")
    _connect(
        go,
        [image, drive, size, seed, renderer, sr],
        make_animate(ws),
        animate_commands,
        "animate",
        (video, status, cli, python),
    )


def _upscale_tab(ws: Workspace) -> None:
    with gr.Row():
        with gr.Column():
            source = gr.Video(label="Video", sources=["upload"])
            scale = gr.Radio([2, 4], value=2, label="Scale")
            reference = photo("Reference photo of the face (optional)")
            mode = gr.Radio(["fast", "diffusion"], value="fast", label="Super-resolution model")
            go = _buttons(ws, "upscale")
        with gr.Column():
            video, status, cli, python = _result_area("upscale")
    _connect(
        go,
        [source, scale, reference, mode],
        make_upscale(ws),
        upscale_commands,
        "upscale",
        (video, status, cli, python),
    )


def _batch_tab(ws: Workspace) -> None:
    gr.Markdown(
        "A job file (YAML or JSONL, as for `avatarvid batch`) with its inputs: upload them "
        "(files, or one .zip keeping subfolders), or give a job file or folder on this server. "
        "Outputs are written into the app's temporary folder."
    )
    with gr.Row():
        job_file = gr.File(label="Job file", file_types=[".yaml", ".yml", ".jsonl"])
        inputs = gr.File(label="Inputs (photos, audio, videos or a .zip)", file_count="multiple")
    server = gr.Textbox(label="...or a job file / folder on the server", placeholder="/data/jobs")
    workers = gr.Slider(1, max(1, os.cpu_count() or 1), 1, step=1, label="Worker processes")
    go = _buttons(ws, "batch")
    status = gr.Markdown()
    table = gr.Dataframe(headers=BATCH_COLUMNS, label="Jobs", interactive=False, wrap=True)
    outputs = gr.File(label="Outputs", file_count="multiple", interactive=False)
    gr.Examples([[str(ws.examples)]], [server], label="Bundled example (4 jobs)")
    go.click(
        make_batch(ws),
        [job_file, inputs, server, workers],
        [table, outputs, status],
        api_name="batch",
        concurrency_id=RENDER_SLOT,
    )


def _quality_tab() -> tuple:
    gr.Markdown(
        "`avatarvid eval` in the page: face presence, lip sync, blinks, head motion, jitter, "
        "identity and duration, with the mouth-opening and head-pose curves behind them."
    )
    with gr.Row():
        video = gr.Video(label="Talking video", sources=["upload"])
        reference = photo("Its photo")
        audio = gr.Audio(label="Speech (default: the video's)", type="filepath", format=None)
        report = gr.File(label="...or an eval JSON report", file_types=[".json"])
    go = gr.Button("Measure", variant="primary")
    table = gr.Dataframe(headers=QUALITY_COLUMNS, label="Report", interactive=False, wrap=True)
    plot = gr.Plot(label="Curves", elem_id="quality-plot")
    go.click(
        make_quality(),
        [video, reference, audio, report],
        [table, plot],
        api_name="quality",
        concurrency_id=RENDER_SLOT,
    )
    return video, reference, audio


def build_app(ws: Workspace) -> gr.Blocks:
    with gr.Blocks(title="avatarvid", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs() as tabs:
            with gr.Tab("Talking video"):
                measure, result = _talking_tab(ws)
            with gr.Tab("Animate"):
                _animate_tab(ws)
            with gr.Tab("Upscale"):
                _upscale_tab(ws)
            with gr.Tab("Batch"):
                _batch_tab(ws)
            with gr.Tab("Quality report", id="quality"):
                quality_inputs = _quality_tab()
        # the rendered video, its photo and speech, carried over to the Quality report tab
        measure.click(
            lambda v, i, a: (v, i, a, gr.Tabs(selected="quality")),
            list(result),
            [*quality_inputs, tabs],
            queue=False,
            api_visibility="private",
        )
    demo.queue(default_concurrency_limit=1)
    return demo


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    block: bool = True,
    workspace: Workspace | None = None,
):
    """Starts the server (uploads and outputs in one temporary folder, the only one served)."""
    ws = workspace or Workspace()
    demo = build_app(ws)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        allowed_paths=[str(ws.outputs), str(ws.examples)],
        max_file_size=MAX_FILE_SIZE,
        ssr_mode=False,
        mcp_server=False,
        inbrowser=False,
        quiet=not block,
        footer_links=["api"],
    )
    return demo, ws
