"""`avatarvid ui`: the web app (Gradio) in a browser."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "ui",
        help="web app in the browser: talking video, animate, upscale, batch, quality report",
        description="Start the avatarvid web UI (Gradio). Needs the optional extra: "
        "pip install 'avatarvid[ui]'.",
        epilog="example: avatarvid ui --port 7860, then open http://127.0.0.1:7860",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (7860)")
    p.add_argument(
        "--share", action="store_true", help="also make a temporary public gradio.live link"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.ui import make_root, require_gradio

    require_gradio()
    root = make_root()  # before gradio is imported
    from avatarvid.ui.app import launch
    from avatarvid.ui.jobs import Workspace

    workspace = Workspace(root)
    try:
        launch(args.host, args.port, args.share, workspace=workspace)
    finally:
        workspace.cleanup()
    return 0
