"""How a batch run talks: a progress bar (jobs ok/failed/left, ETA, the latest job's stage)
and a summary table, or quiet (table only), or JSON lines on stdout for unattended runs."""

from __future__ import annotations

import json
import sys
from typing import Literal

from tqdm import tqdm

from avatarvid.pipelines.batch.runner import JobReport

Mode = Literal["bar", "quiet", "json"]
FAILED = ("failed", "unchanged", "cancelled")


class BatchReporter:
    def __init__(self, mode: Mode = "bar") -> None:
        self.mode = mode
        self._bar: tqdm | None = None
        self._counts = {"ok": 0, "failed": 0}
        self._left = 0

    def begin(self, reports: list[JobReport]) -> None:
        todo = [r for r in reports if r.status == "pending"]
        self._left = len(todo)
        counts = _counts(reports)
        if self.mode == "json":
            _emit({"event": "start", "jobs": len(reports), "to_run": len(todo), **counts})
            return
        if self.mode == "bar":
            done = len(reports) - len(todo)
            if done:
                print(f"{done} of {len(reports)} job(s) already finished in an earlier run")
            self._bar = tqdm(
                total=len(todo),
                unit="job",
                desc="batch",
                file=sys.stderr,
                disable=not todo,
                dynamic_ncols=True,
            )
            self._refresh()

    def stage(self, key: str, stage: str, done: float) -> None:
        if self._bar is not None:
            self._bar.set_description_str(f"{key}: {stage} {done:.0%}", refresh=True)

    def finished(self, report: JobReport) -> None:
        self._counts["ok" if report.status == "ok" else "failed"] += 1
        self._left -= 1
        if self.mode == "json":
            outcome = report.outcome
            _emit(
                {
                    "event": "job",
                    "output": report.job.key,
                    "status": report.status,
                    "attempts": report.attempts,
                    "error": report.error,
                    "seconds": outcome.seconds if outcome else None,
                    "sha256": outcome.sha256 if outcome else None,
                }
            )
        elif self._bar is not None:
            self._bar.update(1)
            self._refresh()
            if report.status == "failed":
                self._bar.write(f"failed: {report.job.key}: {report.error}")

    def _refresh(self) -> None:
        self._bar.set_postfix_str(
            f"ok={self._counts['ok']} failed={self._counts['failed']} left={self._left}"
        )

    def end(self, reports: list[JobReport]) -> None:
        if self._bar is not None:
            self._bar.close()
        if self.mode == "json":
            _emit({"event": "summary", **_counts(reports)})
            return
        print(summary_table(reports))


def _counts(reports: list[JobReport]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


def summary_table(reports: list[JobReport]) -> str:
    rows = [("#", "output", "status", "tries", "seconds", "frames", "note")]
    for i, r in enumerate(reports):
        o = r.outcome
        rows.append(
            (
                str(i),
                r.job.key,
                r.status,
                str(r.attempts) if r.attempts else "-",
                f"{o.seconds:.2f}" if o else "-",
                str(o.num_frames) if o and o.num_frames else "-",
                r.error or ("reference reused" if o and o.reference_cached else ""),
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(6)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:6], widths, strict=True)).rstrip()
        + (f"  {row[6]}" if row[6] else "")
        for row in rows
    ]
    counts = _counts(reports)
    failed = sum(counts.get(s, 0) for s in FAILED)
    lines.append(
        f"{len(reports)} job(s): {counts.get('ok', 0)} rendered, "
        f"{counts.get('done', 0)} already done, {failed} failed"
    )
    return "\n".join(lines)


def _emit(event: dict) -> None:
    print(json.dumps(event), flush=True)
