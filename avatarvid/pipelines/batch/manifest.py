"""The manifest: one JSON line per finished job, appended and fsynced as jobs finish.

Only the batch driver writes it. A line torn by a kill is ignored when read back; the last
record for an output wins. A job counts as done when its record says `ok` for the same
fingerprint (settings + input bytes) and the file on disk still has the recorded size and
sha256 and probes as a video with the recorded frame count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from avatarvid.errors import InputError
from avatarvid.media.video import probe
from avatarvid.pipelines.batch.schema import Job, file_sha256


def manifest_path(job_file: Path, output_root: Path | None) -> Path:
    """`<jobs>.manifest.jsonl` in the output root, or next to the job file without one."""
    folder = output_root if output_root is not None else Path(job_file).resolve().parent
    return Path(folder) / f"{Path(job_file).stem}.manifest.jsonl"


class Manifest:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn last line of a killed run
                if isinstance(record, dict) and "output" in record:
                    self.records[record["output"]] = record

    def append(self, record: dict[str, Any]) -> None:
        """Durably add `record` (it must carry `output`) before anything depends on it."""
        line = json.dumps(record, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records[record["output"]] = record

    def previous(self, job: Job, fingerprint: str) -> str | None:
        """'ok' if `job`'s output is complete and valid, 'failed' if it failed last time for a
        reason that would not change on a retry (same fingerprint, an input error), else None."""
        record = self.records.get(str(job.output))
        if record is None or record.get("fingerprint") != fingerprint:
            return None
        if record.get("status") == "failed":
            return "failed" if record.get("permanent") else None
        if record.get("status") != "ok" or not _valid(job.output, record):
            return None
        return "ok"


def _valid(path: Path, record: dict[str, Any]) -> bool:
    try:
        if path.stat().st_size != record.get("bytes"):
            return False
        if file_sha256(path) != record.get("sha256"):
            return False
        info = probe(path)
    except (OSError, InputError):
        return False
    return info.num_frames == record.get("num_frames") and info.num_frames > 0
