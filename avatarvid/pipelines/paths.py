"""Checks every job runs before slow work starts, so a typo fails in a second, not a minute, and
no output can ever be written over one of the job's own inputs."""

from __future__ import annotations

import os
from pathlib import Path

from avatarvid.errors import InputError
from avatarvid.media.partials import partial_path, remove_stale_partials

# A file system's limit on one name. The longest temporary name an output gets is batch's
# staged one, `..NAME.staged.mp4.partial-HOST-PID.mp4` (process ids up to 7 digits).
NAME_MAX = 255
TEMP_NAME_EXTRA = len(partial_path(Path("x.staged.mp4"), ".mp4").name) + 7 - len(str(os.getpid()))


def check_input_file(label: str, path: Path) -> None:
    """An input must be a regular file (not a folder, a device or a missing path)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{label} file {path} does not exist")
    if path.is_dir():
        raise InputError(f"{label} {path} is a folder, not a file")
    if not path.is_file():
        raise InputError(f"{label} {path} is not a regular file")


def check_output_parent(path: Path) -> Path:
    """The folder an output (file or folder) goes in must exist: a mistyped path fails instead
    of growing new folders. Returns that folder."""
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise InputError(f"output directory {folder} does not exist; create it first")
    return folder


def check_output_file(label: str, path: Path) -> None:
    """An output's folder must exist and be writable; the output itself must not be a folder
    and its temporary name must fit the file system."""
    path = Path(path)
    folder = check_output_parent(path)
    if path.is_dir():
        raise InputError(f"{label} {path} is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise InputError(f"output directory {folder} is not writable")
    if len(path.name) + TEMP_NAME_EXTRA > NAME_MAX:
        raise InputError(
            f"{label} name {path.name[:40]}... is too long ({len(path.name)} characters; "
            f"at most {NAME_MAX - TEMP_NAME_EXTRA})"
        )


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name one file: equal after resolving symlinks, or one inode (hard
    links)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_distinct(inputs: dict[str, Path | None], outputs: dict[str, Path | None]) -> None:
    """No output may be an input, nor another output."""
    given_out = [(label, Path(p)) for label, p in outputs.items() if p is not None]
    for out_label, out in given_out:
        for in_label, src in inputs.items():
            if src is not None and same_file(out, src):
                raise InputError(
                    f"{out_label} {out} is the {in_label} file; choose another output name "
                    "(avatarvid never writes over its inputs)"
                )
    for i, (label_a, a) in enumerate(given_out):
        for label_b, b in given_out[i + 1 :]:
            if same_file(a, b):
                raise InputError(f"{label_a} and {label_b} are the same file {a}")


def check_job_paths(
    inputs: dict[str, Path | None],
    video: Path | None,
    extra_outputs: dict[str, Path | None] | None = None,
) -> None:
    """Inputs (label -> path, None = not given) must be files, output folders must exist and be
    writable, the video (None: frames are streamed, not written) must be an .mp4, and no output
    may name an input."""
    for label, path in inputs.items():
        if path is not None:
            check_input_file(label, path)
    outputs = {"output": video} | (extra_outputs or {})
    for label, path in outputs.items():
        if path is not None:
            check_output_file(label, path)
    if video is not None and Path(video).suffix.lower() != ".mp4":
        raise InputError(f"output {video} must end in .mp4")
    check_distinct(inputs, outputs)


def write_atomic(path: Path, text: str) -> None:
    """Writes a text file under a hidden temporary name and renames it when complete."""
    path = Path(path)
    remove_stale_partials(path.parent)
    partial = partial_path(path)
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
