"""`avatarvid data SOURCE ...`: build training shards (synthetic speech, real videos, ...).

Each source is a module exposing `register(subparsers)` that adds its own sub-parser with
`set_defaults(func=...)`.
"""

from __future__ import annotations

import importlib

# modules that each add one `avatarvid data <source>` sub-command
SOURCES: tuple[str, ...] = (
    "avatarvid.commands.data_tts",
    "avatarvid.commands.data_videos",
    "avatarvid.commands.data_clips",
)


def register(sub) -> None:
    p = sub.add_parser(
        "data",
        help="build training data shards",
        description="Build training data shards for avatarvid's models.",
    )
    sources = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    for name in SOURCES:
        importlib.import_module(name).register(sources)
