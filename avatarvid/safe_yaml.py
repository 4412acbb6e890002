"""YAML from users (job files, presets, training configs) read with limits.

`yaml.safe_load` builds no objects, but aliases still let a few hundred bytes expand to
gigabytes ("billion laughs"); no file of ours needs them, so they are refused outright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from avatarvid.errors import InputError

MAX_YAML_BYTES = 4 * 2**20


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)


def read_text(path: Path, what: str) -> str:
    """A user's text file (job file, preset, config), refused when over MAX_YAML_BYTES or not
    UTF-8, with one InputError naming `what`."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise InputError(
            f"{what} {path} is {size / 2**20:.1f} MB; the limit is {MAX_YAML_BYTES // 2**20} MB"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not a text file (not UTF-8)") from None


def load_yaml(path: Path, what: str) -> Any:
    """The parsed file, or one InputError naming `what` and the problem."""
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        first = " ".join(str(e).split())[:200]
        raise InputError(f"{what} {path} is not valid YAML: {first}") from None
    except RecursionError:
        raise InputError(f"{what} {path} is nested too deeply") from None
