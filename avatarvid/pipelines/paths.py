"""Checks every job runs before slow work starts, so a typo fails in a second, not a minute."""

from __future__ import annotations

from pathlib import Path

from avatarvid.errors import InputError


def check_job_paths(
    inputs: dict[str, Path | None],
    video: Path | None,
    extra_outputs: tuple[Path | None, ...] = (),
) -> None:
    """Inputs (label -> path, None = not given) must exist, output folders too, and the video
    (None: frames are streamed, not written) must be an .mp4."""
    for label, path in inputs.items():
        if path is not None and not Path(path).is_file():
            raise InputError(f"{label} file {path} does not exist")
    for path in (video, *extra_outputs):
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise InputError(f"output directory {Path(path).resolve().parent} does not exist")
    if video is not None and Path(video).suffix.lower() != ".mp4":
        raise InputError(f"output {video} must end in .mp4")
