"""`avatarvid eval`: a quality report for any talking video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="quality report for a talking video",
        description="Measure a talking video with mediapipe: face presence, lip sync, blinks, "
        "head motion, jitter, identity proxy, duration.",
    )
    p.add_argument("--video", required=True, type=Path)
    p.add_argument("--reference", required=True, type=Path, help="the photo it was made from")
    p.add_argument("--audio", type=Path, help="speech to sync against (default: video's track)")
    p.add_argument("--json", type=Path, help="also write the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.evaluate.report import evaluate_talking_video
    from avatarvid.pipelines.paths import (
        check_distinct,
        check_input_file,
        check_output_file,
        write_atomic,
    )

    inputs = {"video": args.video, "reference": args.reference, "audio": args.audio}
    for label, path in inputs.items():
        if path is not None:
            check_input_file(label, path)
    if args.json is not None:
        check_output_file("--json", args.json)
        check_distinct(inputs, {"--json": args.json})
    report = evaluate_talking_video(args.video, args.reference, args.audio)
    print(report.format_table())
    if args.json:
        write_atomic(args.json, json.dumps(report.to_dict(), indent=2) + "\n")
    return 0
